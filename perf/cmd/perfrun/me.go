package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/authd/authd/perf/internal/report"
	"github.com/authd/authd/perf/internal/stack"
	"github.com/authd/authd/perf/internal/stats"
)

//go:embed me.lua
var meLua string

// wrkResult is what me.lua prints.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	ErrConnect int64   `json:"err_connect"`
	ErrRead    int64   `json:"err_read"`
	ErrWrite   int64   `json:"err_write"`
	ErrStatus  int64   `json:"err_status"`
	ErrTimeout int64   `json:"err_timeout"`
	P50        float64 `json:"p50_us"`
	P90        float64 `json:"p90_us"`
	P99        float64 `json:"p99_us"`
	P999       float64 `json:"p999_us"`
	Max        float64 `json:"max_us"`
	Mean       float64 `json:"mean_us"`
}

func (w wrkResult) rps() float64 { return float64(w.Requests) / (float64(w.DurationUS) / 1e6) }
func (w wrkResult) errors() int64 {
	return w.ErrConnect + w.ErrRead + w.ErrWrite + w.ErrStatus + w.ErrTimeout
}

type meVariant struct {
	key    string // a, b, c, d
	label  string
	pinned bool
	url    string
	redis  bool // reads go through the run's Redis

	runs []meRun
}

type meRun struct {
	w    wrkResult
	gets float64 // Redis commands per request; NaN when not counted
}

func (v *meVariant) name() string {
	if v.pinned {
		return v.key + "/pinned"
	}
	return v.key + "/unpinned"
}

// ipRateOutOfReach is the per-address limit of perf:me's authd variants.
const ipRateOutOfReach = "1000000000"

func runMe(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("me", flag.ExitOnError)
	c.register(fs)
	rounds := fs.Int("rounds", 4, "measurements of each variant, interleaved")
	dur := fs.Duration("d", 4*time.Second, "length of one measurement")
	warm := fs.Duration("warmup", time.Second, "discarded warm-up run of each variant")
	conns := fs.Int("c", 32, "wrk connections")
	threads := fs.Int("t", 2, "wrk threads")
	candidate := fs.String("candidate", "", "another authd binary to measure as (e), with (c)'s settings (to try a patch)")
	pin := fs.String("pin", "both", "on: servers on CPU 1 and wrk on CPU 0; off: no pinning; both: each, interleaved")
	_ = fs.Parse(args)
	modes := map[string][]bool{"on": {true}, "off": {false}, "both": {true, false}}[*pin]
	if modes == nil {
		return fmt.Errorf("-pin must be on, off or both")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (go tool task perf:deps)")
	}
	started := time.Now()
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()

	db, err := st.MigratedPostgres(ctx)
	if err != nil {
		return err
	}
	rd, err := st.Redis(ctx, "")
	if err != nil {
		return err
	}
	// The per-address limit is counted, as the shipped default counts it
	// on every /auth/ request, but set out of reach: at 600 a minute wrk's
	// one address would get 429s within a millisecond.
	base := append(st.AuthdEnv(db), "AUTH_IP_RATE_PER_MINUTE="+ipRateOutOfReach)
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }

	var variants []*meVariant
	effective := map[bool]string{} // how authd runs, pinned and not
	var bodyFile string
	var token string
	for _, pinned := range modes {
		cpus, suffix := "", "-unpinned"
		if pinned {
			cpus, suffix = "1", "-pinned"
		}
		a, err := st.Authd(ctx, "a-database"+suffix, cpus, with("AUTH_CACHE_TTL=0s"))
		if err != nil {
			return err
		}
		b, err := st.Authd(ctx, "b-redis-network"+suffix, cpus, with("AUTH_REDIS_URL="+rd.URL+"?client_cache=0"))
		if err != nil {
			return err
		}
		cc, err := st.Authd(ctx, "c-client-cache"+suffix, cpus, with("AUTH_REDIS_URL="+rd.URL))
		if err != nil {
			return err
		}
		effective[pinned] = stack.Effective(cc.URL)
		if token == "" {
			if token, err = registerOne(ctx, st, a.URL); err != nil {
				return err
			}
			body, err := getMe(a.URL, token)
			if err != nil {
				return err
			}
			bodyFile = filepath.Join(st.Dir, "me.json")
			if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
				return err
			}
		}
		d, err := st.Serve(ctx, "d-constant"+suffix, cpus, nil, "/healthz", "constant", "-body", bodyFile)
		if err != nil {
			return err
		}
		variants = append(variants,
			&meVariant{key: "a", label: "(a) database read every request (PostgreSQL, AUTH_CACHE_TTL=0s)", pinned: pinned, url: a.URL},
			&meVariant{key: "b", label: "(b) Redis GET over the network every request (client_cache=0)", pinned: pinned, url: b.URL, redis: true},
			&meVariant{key: "c", label: "(c) rueidis client-side cache (Redis default)", pinned: pinned, url: cc.URL, redis: true},
			&meVariant{key: "d", label: "(d) bare Echo handler, constant body (ceiling)", pinned: pinned, url: d.URL},
		)
		if *candidate != "" {
			e, err := st.AuthdBinary(ctx, "e-candidate"+suffix, cpus, with("AUTH_REDIS_URL="+rd.URL), *candidate)
			if err != nil {
				return err
			}
			variants = append(variants, &meVariant{key: "e", label: "(e) candidate build (-candidate), (c)'s settings", pinned: pinned, url: e.URL, redis: true})
		}
	}
	// Every variant must answer the same body before anything is timed.
	want, _ := os.ReadFile(bodyFile)
	for _, v := range variants {
		got, err := getMe(v.url, token)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name(), err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s answers %d bytes, want the same %d as authd", v.name(), len(got), len(want))
		}
	}
	script := filepath.Join(st.Dir, "me.lua")
	if err := os.WriteFile(script, []byte(meLua), 0o644); err != nil {
		return err
	}
	wrk := func(v *meVariant, d time.Duration) (wrkResult, error) {
		cpus := ""
		if v.pinned {
			cpus = "0"
		}
		out, err := st.Run(ctx, "wrk", cpus, []string{"TOKEN=" + token}, "wrk",
			"-t", fmt.Sprint(*threads), "-c", fmt.Sprint(*conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
			"--timeout", "5s", "-s", script, v.url+"/auth/me")
		if err != nil {
			return wrkResult{}, err
		}
		for _, line := range strings.Split(string(out), "\n") {
			if j, ok := strings.CutPrefix(line, "WRKJSON "); ok {
				var r wrkResult
				return r, json.Unmarshal([]byte(j), &r)
			}
		}
		return wrkResult{}, fmt.Errorf("no WRKJSON line in wrk's output: %s", out)
	}

	logf("warming up %d variants", len(variants))
	for _, v := range variants {
		if _, err := wrk(v, *warm); err != nil {
			return err
		}
	}
	for r := range *rounds {
		for _, v := range variants {
			var before map[string]int64
			if v.redis {
				if before, err = stack.RedisCalls(ctx, rd.Port); err != nil {
					return err
				}
			}
			w, err := wrk(v, *dur)
			if err != nil {
				return err
			}
			run := meRun{w: w, gets: nan()}
			if v.redis {
				after, err := stack.RedisCalls(ctx, rd.Port)
				if err != nil {
					return err
				}
				// Every command authd sent (reads, the limiter's batches),
				// not the INFO that counts them.
				var n int64
				for cmd, calls := range after {
					if cmd != "info" {
						n += calls - before[cmd]
					}
				}
				run.gets = float64(n) / float64(w.Requests)
			}
			v.runs = append(v.runs, run)
			logf("round %d %-12s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d", r+1, v.name(), w.rps(), w.P50/1e3, w.P99/1e3, w.errors())
		}
	}

	redisVersion := firstLine(exec.Command("redis-server", "--version").Output())
	pgVersion := firstLine(exec.Command("psql", append(append([]string{}, stack.PostgresAdmin...), "-tAc", "show server_version", "postgres")...).Output())
	// wrk --version exits 1 after printing its version.
	wrkOut, _ := exec.Command("wrk", "--version").CombinedOutput()
	wrkVersion, _, _ := strings.Cut(firstLine(wrkOut, nil), " Copyright")
	var b strings.Builder
	b.WriteString("## Results\n\n")
	b.WriteString(c.header(started,
		fmt.Sprintf("Load tool: %s, `-t%d -c%d -d%s --timeout 5s`, script perf/cmd/perfrun/me.lua (one user's bearer token on every request); "+
			"each variant warmed up for %s (discarded), then measured %d times, interleaved a,b,c,d,a,b,c,d,…"+candidateNote(*candidate), wrkVersion, *threads, *conns, *dur, *warm, *rounds),
		fmt.Sprintf("Pinning: \"pinned\" runs the server under test with `taskset -c 1` and wrk with `taskset -c 0`; "+
			"\"unpinned\" runs both unrestricted. PostgreSQL and Redis are never pinned. authd reported (/metrics) %s", describeEffective(effective)),
		fmt.Sprintf("Services: PostgreSQL %s (the machine's server, a private database created and dropped by the run); %s, private, no persistence", pgVersion, redisVersion),
		"authd: `AUTH_IP_RATE_PER_MINUTE="+ipRateOutOfReach+"` (every request counted against the per-address limit, as by default, with the limit out of wrk's reach), `AUTH_LOGIN_RATE_PER_MINUTE=0 AUTH_LOG_LEVEL=warn`, other settings default; "+
			"(a) `AUTH_CACHE_TTL=0s`, no Redis; (b) `AUTH_REDIS_URL=redis://…?client_cache=0`; (c) `AUTH_REDIS_URL=redis://…`; "+
			fmt.Sprintf("(d) perf/cmd/constant answering the same %d-byte body authd answers (authd adds three headers: X-Request-Id, Cache-Control, X-Content-Type-Options)", len(want)),
	))
	b.WriteString("\nreq/s and latencies are medians over the rounds; spread is (max − min) / median of req/s; ")
	b.WriteString("ratios are medians of the per-round ratios (each pair measured seconds apart), with their range. ")
	b.WriteString("Latencies are wrk's (closed loop, 32 connections), in ms. Redis commands per request (every command authd sent: GETs, the rate limiter's EVALSHA batches, …) are counted on the private Redis (INFO commandstats) around each measurement.\n")
	for _, pinned := range modes {
		title := "Unpinned (server and wrk share both cores)"
		if pinned {
			title = "Pinned (server on CPU 1, wrk on CPU 0)"
		}
		fmt.Fprintf(&b, "\n### %s\n\n", title)
		b.WriteString("| variant | req/s | spread | p50 ms | p99 ms | × (a) | × (b) | ÷ (d) | Redis cmds/req | errors |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		byKey := map[string]*meVariant{}
		for _, v := range variants {
			if v.pinned == pinned {
				byKey[v.key] = v
			}
		}
		ratio := func(x, y *meVariant) (med, lo, hi float64) {
			var rs []float64
			for i := range x.runs {
				rs = append(rs, x.runs[i].w.rps()/y.runs[i].w.rps())
			}
			return stats.Median(rs), minf(rs), maxf(rs)
		}
		cell := func(x, y *meVariant) string {
			m, lo, hi := ratio(x, y)
			return fmt.Sprintf("%s (%s–%s)", f(m), f(lo), f(hi))
		}
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			v := byKey[k]
			if v == nil {
				continue
			}
			var rps, p50, p99, gets []float64
			var errs int64
			for _, r := range v.runs {
				rps = append(rps, r.w.rps())
				p50 = append(p50, r.w.P50/1e3)
				p99 = append(p99, r.w.P99/1e3)
				gets = append(gets, r.gets)
				errs += r.w.errors()
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f%% | %s | %s | %s | %s | %s | %s | %d |\n", v.label, f(stats.Median(rps)),
				100*stats.Spread(rps), f(stats.Median(p50)), f(stats.Median(p99)),
				cell(v, byKey["a"]), cell(v, byKey["b"]), cell(v, byKey["d"]), f(stats.Median(gets)), errs)
		}
		ca, _, _ := ratio(byKey["c"], byKey["a"])
		cb, _, _ := ratio(byKey["c"], byKey["b"])
		cd, _, _ := ratio(byKey["c"], byKey["d"])
		b.WriteString("\nTargets for (c):\n\n")
		fmt.Fprintf(&b, "- at least 3× (a): %s× — %s\n", f(ca), yes(ca >= 3))
		fmt.Fprintf(&b, "- at least 1.5× (b): %s× — %s\n", f(cb), yes(cb >= 1.5))
		fmt.Fprintf(&b, "- at least 70%% of (d): %.0f%% — %s\n", 100*cd, yes(cd >= 0.70))
		if e := byKey["e"]; e != nil {
			ea, _, _ := ratio(e, byKey["a"])
			eb, _, _ := ratio(e, byKey["b"])
			ed, _, _ := ratio(e, byKey["d"])
			ec, _, _ := ratio(e, byKey["c"])
			fmt.Fprintf(&b, "\nThe candidate (e) against the same targets: %s× (a) — %s; %s× (b) — %s; %.0f%% of (d) — %s; %s× (c).\n",
				f(ea), yes(ea >= 3), f(eb), yes(eb >= 1.5), 100*ed, yes(ed >= 0.70), f(ec))
		}
	}
	b.WriteString("\n<details><summary>Every measurement, in the order taken</summary>\n\n")
	b.WriteString("| round | variant | req/s | p50 ms | p99 ms | max ms | Redis cmds/req | errors |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for r := range *rounds {
		for _, v := range variants {
			run := v.runs[r]
			fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %s | %s | %s | %d |\n", r+1, v.name(), run.w.rps(),
				f(run.w.P50/1e3), f(run.w.P99/1e3), f(run.w.Max/1e3), f(run.gets), run.w.errors())
		}
	}
	b.WriteString("\n</details>\n")

	out := filepath.Join(c.results, "me-cache.md")
	if err := report.WriteSection(out, "GET /auth/me: database, Redis, client-side cache, ceiling", "me", b.String()); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// registerOne registers one user through loadgen and returns their access
// token.
func registerOne(ctx context.Context, st *stack.Stack, url string) (string, error) {
	users := filepath.Join(st.Dir, "one-user.json")
	if _, err := st.Run(ctx, "loadgen-register", "", nil, st.Tool("loadgen"), "register", "-url", url, "-n", "1", "-out", users); err != nil {
		return "", err
	}
	var us []struct {
		AccessToken string `json:"access_token"`
	}
	b, err := os.ReadFile(users)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &us); err != nil || len(us) != 1 || us[0].AccessToken == "" {
		return "", fmt.Errorf("%s: no token (%v)", users, err)
	}
	return us[0].AccessToken, nil
}

func getMe(url, token string) ([]byte, error) {
	req, _ := http.NewRequest(http.MethodGet, url+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s/auth/me: %d %s", url, res.StatusCode, b)
	}
	return b, err
}

func firstLine(b []byte, err error) string {
	if err != nil {
		return "unknown"
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(s)
}

func nan() float64 { return stats.Percentile(nil, 50) }

func minf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func candidateNote(path string) string {
	if path == "" {
		return ""
	}
	return "; (e) is a candidate authd build (" + filepath.Base(path) + ", -candidate) run with (c)'s settings, interleaved with the others"
}

func describeEffective(eff map[bool]string) string {
	var parts []string
	for _, pinned := range []bool{true, false} {
		e, ok := eff[pinned]
		if !ok || e == "" {
			continue
		}
		name := "unpinned"
		if pinned {
			name = "pinned"
		}
		parts = append(parts, name+": "+e)
	}
	if len(parts) == 0 {
		return "nothing about its GOMAXPROCS"
	}
	return strings.Join(parts, "; ")
}
