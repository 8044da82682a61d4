package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/authd/authd/perf/internal/report"
)

// benchPackages are the hot paths: token verification, bcrypt, the hashing
// pool, the Redis cache, what every request pays for metrics and the
// access log, and GET /auth/me through the router.
var benchPackages = []string{"./adapters/jwt", "./adapters/bcrypt", "./adapters/hashpool", "./adapters/redis",
	"./adapters/prom", "./adapters/rest", "./test/api"}

func runGoBench(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("gobench", flag.ExitOnError)
	c.register(fs)
	count := fs.Int("count", 6, "go test -count")
	benchtime := fs.String("benchtime", "500ms", "go test -benchtime")
	src := fs.String("src", ".", "module directory to benchmark (e.g. an export of a commit)")
	_ = fs.Parse(args)
	started := time.Now()
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	rd, err := st.Redis(ctx, "")
	if err != nil {
		return err
	}
	// -p 1: packages one after another, never two benchmarks at once.
	goArgs := append([]string{"test", "-p", "1", "-run", "^$", "-bench", ".", "-benchmem",
		"-count", fmt.Sprint(*count), "-benchtime", *benchtime}, benchPackages...)
	logf("go %s", strings.Join(goArgs, " "))
	cmd := exec.CommandContext(ctx, "go", goArgs...)
	cmd.Dir = *src
	cmd.Env = append(os.Environ(), "AUTH_TEST_REDIS_URL="+rd.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test: %w\n%s", err, out.String())
	}
	raw := filepath.Join(c.results, "go-bench.txt")
	if err := os.WriteFile(raw, out.Bytes(), 0o644); err != nil {
		return err
	}
	bs := exec.CommandContext(ctx, "go", "run", "golang.org/x/perf/cmd/benchstat@latest", raw)
	summary, err := bs.CombinedOutput()
	if err != nil {
		return fmt.Errorf("benchstat: %w\n%s", err, summary)
	}

	var b strings.Builder
	b.WriteString("## Results\n\n")
	b.WriteString(c.header(started,
		fmt.Sprintf("Command: `AUTH_TEST_REDIS_URL=<a private redis-server> go %s`", strings.Join(goArgs, " ")),
		"Summary: `go run golang.org/x/perf/cmd/benchstat@latest perf/results/go-bench.txt` (raw output kept in go-bench.txt); "+
			"benchstat shows the median of the runs and the 95% confidence interval around it",
	))
	b.WriteString("\n```\n")
	b.Write(bytes.TrimSpace(summary))
	b.WriteString("\n```\n")
	out2 := filepath.Join(c.results, "go-bench.md")
	if err := report.WriteSection(out2, "Go benchmarks of the hot paths", "gobench", b.String()); err != nil {
		return err
	}
	logf("wrote %s and %s", out2, raw)
	return nil
}
