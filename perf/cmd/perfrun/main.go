// Command perfrun runs authd's load benchmarks end to end and writes their
// results under perf/results/: it creates a private PostgreSQL database and
// starts a private redis-server, starts authd instances (built beforehand
// into -bin), drives them with wrk or loadgen side by side with the
// variants they are compared to, and drops and stops everything afterwards.
// Every run is bounded in time and stops by itself.
//
//	perfrun me          GET /auth/me: database, Redis over the network,
//	                    client-side cache, constant handler → me-cache.md
//	perfrun propagation logout on one instance → 401 on another → propagation.md
//	perfrun ceiling     bcrypt ceiling, 1 worker vs all → hashing.md
//	perfrun login       closed-loop logins vs the ceiling; credential cache → hashing.md
//	perfrun flood       /auth/me under a login flood at 3× the ceiling → hashing.md
//	perfrun refresh     POST /auth/refresh open loop up a ladder of rates, side
//	                    by side with GET /auth/me → refresh.md
//	perfrun gobench     the Go benchmarks, summarised by benchstat → go-bench.md
//
// Run it from the repository root (go tool task perf:NAME does).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/authd/authd/perf/internal/report"
	"github.com/authd/authd/perf/internal/stack"
)

// common are the flags every subcommand takes.
type common struct {
	bin     string
	results string
	task    string // the task that ran us, for "Reproduce:"
	keep    bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bin, "bin", "perf/.bin", "directory holding authd and the perf binaries")
	fs.StringVar(&c.results, "results", "perf/results", "where result files go")
	fs.StringVar(&c.task, "task", "", "the command that ran this, as it should be quoted in the results")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch directory (logs, CSVs)")
}

// reproduce is the exact command quoted in the results.
func (c *common) reproduce() string {
	var args []string
	for i := 1; i < len(os.Args); i++ {
		a := os.Args[i]
		switch {
		// -task is quoted separately; -src and -bin point at local
		// directories, and what they held is the "authd commit" line.
		case a == "-task" || a == "--task" || a == "-src" || a == "--src" || a == "-bin" || a == "--bin":
			i++
			continue
		case strings.HasPrefix(a, "-task=") || strings.HasPrefix(a, "--task=") || strings.HasPrefix(a, "-src=") || strings.HasPrefix(a, "-bin="):
			continue
		}
		args = append(args, shellQuote(a))
	}
	self := "`perf/.bin/perfrun " + strings.Join(args, " ") + "`"
	if c.task != "" {
		task := c.task
		if len(args) > 1 { // args[0] is the subcommand
			task += " -- " + strings.Join(args[1:], " ")
		}
		return "`" + task + "` from the repository root (it builds authd and the perf tools into perf/.bin, then runs " + self + ")"
	}
	return self + " from the repository root, after `go tool task perf:build`"
}

func (c *common) header(started time.Time, settings ...string) string {
	return report.Header{Command: c.reproduce(), Commit: c.commit(), Settings: settings, Started: started, Took: time.Since(started)}.Markdown()
}

// commit is what perf:build recorded in BIN/BUILD about the source of the
// binaries, or else what git says of the work tree now.
func (c *common) commit() string {
	if b, err := os.ReadFile(filepath.Join(c.bin, "BUILD")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	return report.Commit()
}

func (c *common) open() (*stack.Stack, error) {
	s, err := stack.New(c.bin, os.Stderr)
	if err != nil {
		return nil, err
	}
	if c.keep {
		s.Keep()
	}
	return s, nil
}

// specs is a repeatable string flag.
type specs []string

func (s *specs) String() string     { return strings.Join(*s, " ") }
func (s *specs) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: perfrun me|propagation|ceiling|login|flood|refresh|gobench [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"me": runMe, "propagation": runPropagation, "ceiling": runCeiling,
		"login": runLogin, "flood": runFlood, "refresh": runRefresh, "gobench": runGoBench,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "perfrun: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := f(ctx, os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "perfrun:", err)
		os.Exit(1)
	}
}

// logf reports progress on standard error.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// f formats a float for a table: 3 significant digits, "–" for NaN.
func f(x float64) string {
	switch {
	case x != x:
		return "–"
	case x >= 100 || x <= -100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10 || x <= -10:
		return fmt.Sprintf("%.1f", x)
	case x >= 1 || x <= -1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

func yes(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// shellQuote quotes a for a POSIX shell when it holds anything but plain
// word characters, so the quoted command runs as it ran.
func shellQuote(a string) string {
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
