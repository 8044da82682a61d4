package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/perf/internal/load"
	"github.com/authd/authd/perf/internal/report"
	"github.com/authd/authd/perf/internal/stack"
	"github.com/authd/authd/perf/internal/stats"
)

const hashingTitle = "Password hashing: the ceiling, logins, and /auth/me under a login flood"

type ceilingResult struct {
	Workers    int     `json:"workers"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Hashes     int     `json:"hashes"`
	Seconds    float64 `json:"seconds"`
	HPS        float64 `json:"hashes_per_second"`
	MsPerHash  float64 `json:"ms_per_hash"`
}

func measureCeiling(ctx context.Context, st *stack.Stack, d time.Duration, workers int) (ceilingResult, error) {
	out, err := st.Run(ctx, "ceiling", "", nil, st.Tool("ceiling"), "-cost", "10", "-d", d.String(), "-workers", strconv.Itoa(workers))
	if err != nil {
		return ceilingResult{}, err
	}
	var r ceilingResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("ceiling output %q: %w", out, err)
	}
	logf("ceiling, %d workers: %.1f hashes/s (%.1f ms a hash)", workers, r.HPS, r.MsPerHash)
	return r, nil
}

func runCeiling(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	c.register(fs)
	rounds := fs.Int("rounds", 3, "measurements of each worker count, interleaved")
	d := fs.Duration("d", 5*time.Second, "length of one measurement")
	_ = fs.Parse(args)
	started := time.Now()
	st, err := c.open()
	if err != nil {
		return err
	}
	defer st.Close()
	n := runtime.NumCPU()
	counts := []int{1, n}
	res := map[int][]ceilingResult{}
	for range *rounds {
		for _, w := range counts {
			r, err := measureCeiling(ctx, st, *d, w)
			if err != nil {
				return err
			}
			res[w] = append(res[w], r)
		}
	}
	var b strings.Builder
	b.WriteString("## The bcrypt ceiling\n\n")
	b.WriteString(c.header(started,
		fmt.Sprintf("Tool: perf/cmd/ceiling — N goroutines each running bcrypt.CompareHashAndPassword at cost 10 back to back for %s (golang.org/x/crypto/bcrypt, what a login costs); "+
			"%d rounds, worker counts interleaved", *d, *rounds)))
	b.WriteString("\n| workers | hashes/s (median) | spread | ms per hash on one worker | vs 1 worker |\n|---:|---:|---:|---:|---:|\n")
	one := stats.Median(hps(res[1]))
	for _, w := range counts {
		h := hps(res[w])
		var ms []float64
		for _, r := range res[w] {
			ms = append(ms, r.MsPerHash)
		}
		fmt.Fprintf(&b, "| %d | %s | %.0f%% | %s | %s× |\n", w, f(stats.Median(h)), 100*stats.Spread(h), f(stats.Median(ms)), f(stats.Median(h)/one))
	}
	fmt.Fprintf(&b, "\nThe ceiling with all %d cores busy is **%s logins a second** at cost 10: no login path can beat it, whatever it does around the hash.\n", n, f(stats.Median(hps(res[n]))))
	return writeHashing(c, "ceiling", b.String())
}

func hps(rs []ceilingResult) []float64 {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, r.HPS)
	}
	return xs
}

func writeHashing(c common, section, content string) error {
	out := filepath.Join(c.results, "hashing.md")
	if err := report.WriteSection(out, hashingTitle, section, content); err != nil {
		return err
	}
	logf("wrote %s (%s)", out, section)
	return nil
}

// registerUsers registers n users through loadgen and returns the file
// holding them.
func registerUsers(ctx context.Context, st *stack.Stack, url string, n int) (string, error) {
	path := filepath.Join(st.Dir, "users.json")
	_, err := st.Run(ctx, "loadgen-register", "", nil, st.Tool("loadgen"), "register", "-url", url, "-n", strconv.Itoa(n), "-out", path)
	return path, err
}

// loadRun runs loadgen with streams and returns its records.
func loadRun(ctx context.Context, st *stack.Stack, name, users string, window time.Duration, streams ...string) ([]load.Record, string, error) {
	csvPath := filepath.Join(st.Dir, name+".csv")
	args := []string{"run", "-users", users, "-csv", csvPath, "-timeout", "10s"}
	for _, s := range streams {
		args = append(args, "-stream", s)
	}
	tctx, cancel := context.WithTimeout(ctx, window+30*time.Second)
	defer cancel()
	out, err := st.Run(tctx, "loadgen-"+name, "", nil, st.Tool("loadgen"), args...)
	if err != nil {
		return nil, "", err
	}
	logf("%s: %s", name, strings.TrimSpace(string(out)))
	recs, err := load.ReadCSV(csvPath)
	return recs, csvPath, err
}

// outcome names what a request got, for the status tables.
func outcome(r load.Record) string {
	switch {
	case r.Err != "" && r.Status == 0:
		return "no answer (" + r.Err + ")"
	case r.Err != "":
		return fmt.Sprintf("%d, %s", r.Status, r.Err)
	case r.Status == 503 && r.RetryAfter != "":
		return "503 with Retry-After"
	case r.Status == 503:
		return "503 without Retry-After"
	}
	return strconv.Itoa(r.Status)
}

func counts(recs []load.Record, endpoint string) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		if r.Endpoint == endpoint {
			m[outcome(r)]++
		}
	}
	return m
}

func countsString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// onlyAllowed reports whether every outcome is 200 or, where allowed,
// 503 with Retry-After.
func onlyAllowed(m map[string]int, allow503 bool) bool {
	for k := range m {
		if k != "200" && !(allow503 && k == "503 with Retry-After") {
			return false
		}
	}
	return true
}

// throughput is the 200s that ended within [from, to), a second.
func throughput(recs []load.Record, endpoint string, from, to time.Duration) float64 {
	n := 0
	for _, r := range recs {
		if r.Endpoint == endpoint && r.Status == 200 && r.Err == "" && r.End() >= from && r.End() < to {
			n++
		}
	}
	return float64(n) / (to - from).Seconds()
}

// latencies of the 200s of endpoint scheduled within any of the windows,
// in ms.
func latencies(recs []load.Record, endpoint string, windows ...[2]time.Duration) []float64 {
	var xs []float64
	for _, r := range recs {
		if r.Endpoint != endpoint || r.Status != 200 || r.Err != "" {
			continue
		}
		for _, w := range windows {
			if r.Sched >= w[0] && r.Sched < w[1] {
				xs = append(xs, stats.Ms(r.Latency))
				break
			}
		}
	}
	return xs
}

func runLogin(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("login", flag.ExitOnError)
	c.register(fs)
	rounds := fs.Int("rounds", 3, "rounds of ceiling, login without and with the credential cache")
	d := fs.Duration("d", 6*time.Second, "length of one ceiling or login measurement without the credential cache")
	dCached := fs.Duration("d-cached", 4*time.Second, "length of one login measurement with the credential cache")
	conc := fs.Int("c", 8, "closed-loop login workers")
	nUsers := fs.Int("users", 32, "users logging in, round-robin")
	_ = fs.Parse(args)
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
	off, err := st.Authd(ctx, "authd-credcache-off", "", st.AuthdEnv(db))
	if err != nil {
		return err
	}
	on, err := st.Authd(ctx, "authd-credcache-on", "", append(st.AuthdEnv(db), "AUTH_CREDENTIAL_CACHE_TTL=10m"))
	if err != nil {
		return err
	}
	effOff := stack.Effective(off.URL)
	if effOff == "" {
		effOff = "nothing on /metrics"
	}
	users, err := registerUsers(ctx, st, off.URL, *nUsers)
	if err != nil {
		return err
	}
	stream := func(url string, d time.Duration) string {
		return fmt.Sprintf("login,closed=%d,0s-%s,url=%s", *conc, d, url)
	}
	// Each user's first login on the cached instance is a full bcrypt run;
	// get those out of the way.
	if _, _, err := loadRun(ctx, st, "warm-credcache", users, 3*time.Second, stream(on.URL, 3*time.Second)); err != nil {
		return err
	}
	n := runtime.NumCPU()
	type loginRun struct {
		tput     float64
		p50, p99 float64
		statuses map[string]int
		ceiling  float64 // only for the uncached runs: the one measured just before
		ratio    float64
	}
	var ceilings []float64
	var offRuns, onRuns []loginRun
	for r := range *rounds {
		cr, err := measureCeiling(ctx, st, *d, n)
		if err != nil {
			return err
		}
		ceilings = append(ceilings, cr.HPS)
		for _, cached := range []bool{false, true} {
			url, dd, name := off.URL, *d, fmt.Sprintf("login-off-%d", r+1)
			if cached {
				url, dd, name = on.URL, *dCached, fmt.Sprintf("login-on-%d", r+1)
			}
			recs, _, err := loadRun(ctx, st, name, users, dd, stream(url, dd))
			if err != nil {
				return err
			}
			lat := stats.Summarize(latencies(recs, "login", [2]time.Duration{0, dd}))
			// The first second (the pool filling) is left out of throughput.
			lr := loginRun{tput: throughput(recs, "login", time.Second, dd), p50: lat.P50, p99: lat.P99, statuses: counts(recs, "login")}
			if cached {
				onRuns = append(onRuns, lr)
			} else {
				lr.ceiling, lr.ratio = cr.HPS, lr.tput/cr.HPS
				offRuns = append(offRuns, lr)
			}
		}
	}
	col := func(rs []loginRun, fn func(loginRun) float64) []float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, fn(r))
		}
		return xs
	}
	tput := func(r loginRun) float64 { return r.tput }
	ratios := col(offRuns, func(r loginRun) float64 { return r.ratio })
	okAll := true
	allStatuses := map[string]int{}
	for _, r := range append(append([]loginRun{}, offRuns...), onRuns...) {
		for k, v := range r.statuses {
			allStatuses[k] += v
		}
	}
	okAll = onlyAllowed(allStatuses, false)

	var b strings.Builder
	b.WriteString("## Login throughput against the ceiling, and the credential cache\n\n")
	b.WriteString(c.header(started,
		fmt.Sprintf("Load: perf/cmd/loadgen, closed loop: %d workers each sending POST /auth/login back to back (%d registered users, round-robin, password strongpass123); "+
			"throughput counts the 200s completed from the first second of the window to its end", *conc, *nUsers),
		fmt.Sprintf("Each round, side by side: the ceiling (perf/cmd/ceiling, %d goroutines at cost 10, %s), then login with the credential cache off (%s), then on (%s); %d rounds",
			n, *d, *d, *dCached, *rounds),
		"authd on a private PostgreSQL database, no Redis (in-process cache), bcrypt cost 10, GOMAXPROCS and `AUTH_HASH_WORKERS` left to authd (it reported "+effOff+"), limits off, `AUTH_LOG_LEVEL=warn`; "+
			"\"on\" adds `AUTH_CREDENTIAL_CACHE_TTL=10m` and was warmed (every user logged in once) before the rounds",
	))
	b.WriteString("\n| | logins/s (median) | spread | p50 ms | p99 ms | answers |\n|---|---:|---:|---:|---:|---|\n")
	fmt.Fprintf(&b, "| ceiling: bcrypt cost 10, all cores | %s | %.0f%% | | | |\n", f(stats.Median(ceilings)), 100*stats.Spread(ceilings))
	for _, x := range []struct {
		name string
		rs   []loginRun
	}{{"login, credential cache off (default)", offRuns}, {"login, credential cache on (10m), known users", onRuns}} {
		st := map[string]int{}
		for _, r := range x.rs {
			for k, v := range r.statuses {
				st[k] += v
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f%% | %s | %s | %s |\n", x.name, f(stats.Median(col(x.rs, tput))), 100*stats.Spread(col(x.rs, tput)),
			f(stats.Median(col(x.rs, func(r loginRun) float64 { return r.p50 }))), f(stats.Median(col(x.rs, func(r loginRun) float64 { return r.p99 }))), countsString(st))
	}
	med := stats.Median(ratios)
	fmt.Fprintf(&b, "\nLogin throughput (cache off) as a fraction of the ceiling measured just before it, per round: %s; median **%.0f%%** "+
		"(target at least 90%%: %s).\n", pctList(ratios), 100*med, yes(med >= 0.9))
	onOff := stats.Median(col(onRuns, tput)) / stats.Median(col(offRuns, tput))
	fmt.Fprintf(&b, "\nWith the credential cache on, repeated logins of known users run at **%s×** the throughput of the default (cache off), "+
		"with p50 latency %s ms instead of %s ms: the bcrypt comparison is skipped, so what is left is the database (user read, session insert) and token signing.\n",
		f(onOff), f(stats.Median(col(onRuns, func(r loginRun) float64 { return r.p50 }))), f(stats.Median(col(offRuns, func(r loginRun) float64 { return r.p50 }))))
	if !okAll {
		b.WriteString("\n**Some answers were not 200** (see the table): read the loadgen logs of a `-keep` run.\n")
	}
	return writeHashing(c, "login", b.String())
}

func pctList(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.0f%%", 100*x))
	}
	return strings.Join(parts, ", ")
}

type floodVariant struct {
	key, label string
	env        []string
	bin        string // empty: BIN/authd
	proc       *stack.Proc
	runs       []floodRun
}

type floodRun struct {
	meRest, meFlood stats.Summary
	floodTput       float64 // login 200s a second in the open-loop flood, pool saturated
	closedTput      float64 // login 200s a second, closed loop, no other load
	ceiling         float64 // measured at the start of the round
	login, me       map[string]int
	csv             string
}

func runFlood(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	c.register(fs)
	rounds := fs.Int("rounds", 3, "rounds; each measures the ceiling, then every variant in turn")
	rest := fs.Duration("rest", 4*time.Second, "rest phase (/auth/me only) before the flood")
	flood := fs.Duration("flood", 8*time.Second, "flood phase")
	after := fs.Duration("after", 6*time.Second, "phase after the flood; it counts as rest from 0.5 s after the last login answer (the queue drained)")
	meRate := fs.Float64("me-rate", 200, "open-loop /auth/me arrivals a second, throughout")
	factor := fs.Float64("factor", 3, "login arrival rate as a multiple of the measured ceiling")
	ceilD := fs.Duration("ceiling-d", 4*time.Second, "length of each round's ceiling measurement")
	closedD := fs.Duration("closed-d", 4*time.Second, "length of each variant's closed-loop login measurement (the first second is left out)")
	conc := fs.Int("c", 8, "closed-loop login workers")
	variantsFlag := fs.String("variants", "default,workers-eq-procs,fewer-workers", "variants to run, in order: default, workers-eq-procs, fewer-workers, extra-p")
	var candidates specs
	fs.Var(&candidates, "candidate", "KEY|AUTHD-BINARY|ENV=V ENV=V…: one more variant, run after the others in each round (to try a patch); repeatable")
	_ = fs.Parse(args)

	// Settings relative to the machine's cores; the labels get what each
	// instance reports on /metrics once started.
	n := runtime.NumCPU()
	env := func(procs, workers int) []string {
		return []string{fmt.Sprintf("GOMAXPROCS=%d", procs), fmt.Sprintf("AUTH_HASH_WORKERS=%d", workers)}
	}
	all := map[string]*floodVariant{
		"default":          {key: "default", label: "shipped default (neither GOMAXPROCS nor AUTH_HASH_WORKERS set)"},
		"workers-eq-procs": {key: "workers-eq-procs", label: fmt.Sprintf("GOMAXPROCS=%d, AUTH_HASH_WORKERS=%d (a worker per P)", n, n), env: env(n, n)},
		"fewer-workers":    {key: "fewer-workers", label: fmt.Sprintf("GOMAXPROCS=%d, AUTH_HASH_WORKERS=%d (a P left for the rest)", n, max(1, n-1)), env: env(n, max(1, n-1))},
		"extra-p":          {key: "extra-p", label: fmt.Sprintf("GOMAXPROCS=%d, AUTH_HASH_WORKERS=%d (a P more than workers)", n+1, n), env: env(n+1, n)},
	}
	var variants []*floodVariant
	for _, k := range strings.Split(*variantsFlag, ",") {
		v, ok := all[k]
		if !ok {
			return fmt.Errorf("unknown variant %q", k)
		}
		variants = append(variants, v)
	}
	for _, spec := range candidates {
		parts := strings.SplitN(spec, "|", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return fmt.Errorf("-candidate %q: want KEY|AUTHD-BINARY|ENV=V ENV=V…", spec)
		}
		v := &floodVariant{key: parts[0], bin: parts[1], label: parts[0] + ": candidate build " + filepath.Base(parts[1])}
		if len(parts) == 3 && strings.TrimSpace(parts[2]) != "" {
			v.env = strings.Fields(parts[2])
			v.label += ", " + strings.Join(v.env, " ")
		}
		variants = append(variants, v)
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
	for _, v := range variants {
		bin := v.bin
		if bin == "" {
			bin = st.Tool("authd")
		}
		if v.proc, err = st.AuthdBinary(ctx, "authd-"+v.key, "", append(st.AuthdEnv(db), v.env...), bin); err != nil {
			return err
		}
		if eff := stack.Effective(v.proc.URL); eff != "" {
			v.label += " → " + eff
		}
	}
	users, err := registerUsers(ctx, st, variants[0].proc.URL, 20)
	if err != nil {
		return err
	}
	first, err := measureCeiling(ctx, st, *ceilD, n)
	if err != nil {
		return err
	}
	// The flood's arrival rate is fixed from the first ceiling, so every
	// run of every variant gets the same load.
	loginRate := *factor * first.HPS
	floodFrom, floodTo := *rest, *rest+*flood
	end := floodTo + *after
	// Logins admitted late in the flood are still hashing seconds after
	// it: the rest after it starts once the last login has answered.
	restWin := func(recs []load.Record) [][2]time.Duration {
		var last time.Duration
		for _, r := range recs {
			if r.Endpoint == "login" {
				last = max(last, r.End())
			}
		}
		return [][2]time.Duration{{time.Second, floodFrom}, {max(last, floodTo) + 500*time.Millisecond, end}}
	}
	floodWin := [2]time.Duration{floodFrom, floodTo}
	// Login throughput in the flood is taken once the queue has filled
	// (MaxWait, 2 s).
	const fill = 2500 * time.Millisecond
	var ceilings []float64
	for r := range *rounds {
		ceil := first
		if r > 0 {
			if ceil, err = measureCeiling(ctx, st, *ceilD, n); err != nil {
				return err
			}
		}
		ceilings = append(ceilings, ceil.HPS)
		for _, v := range variants {
			name := fmt.Sprintf("flood-%s-%d", v.key, r+1)
			recs, csvPath, err := loadRun(ctx, st, name, users, end,
				fmt.Sprintf("me,open=%g,0s-%s,url=%s", *meRate, end, v.proc.URL),
				fmt.Sprintf("login,open=%.1f,%s-%s,url=%s", loginRate, floodFrom, floodTo, v.proc.URL))
			if err != nil {
				return err
			}
			closed, _, err := loadRun(ctx, st, fmt.Sprintf("closed-%s-%d", v.key, r+1), users, *closedD,
				fmt.Sprintf("login,closed=%d,0s-%s,url=%s", *conc, *closedD, v.proc.URL))
			if err != nil {
				return err
			}
			login := counts(recs, "login")
			for k, x := range counts(closed, "login") {
				login[k] += x
			}
			v.runs = append(v.runs, floodRun{
				meRest:     stats.Summarize(latencies(recs, "me", restWin(recs)...)),
				meFlood:    stats.Summarize(latencies(recs, "me", floodWin)),
				floodTput:  throughput(recs, "login", floodFrom+fill, floodTo),
				closedTput: throughput(closed, "login", time.Second, *closedD),
				ceiling:    ceil.HPS,
				login:      login, me: counts(recs, "me"), csv: csvPath,
			})
			fr := v.runs[len(v.runs)-1]
			logf("%s: me p99 rest %.2f ms, flood %.2f ms; logins %.1f/s in the flood, %.1f/s closed loop (ceiling %.1f)",
				name, fr.meRest.P99, fr.meFlood.P99, fr.floodTput, fr.closedTput, fr.ceiling)
		}
	}

	plot := filepath.Join(c.results, "flood.png")
	plotErr := plotFlood(ctx, st, plot, variants, floodFrom, floodTo, *meRate, loginRate)

	var b strings.Builder
	b.WriteString("## /auth/me under a login flood at 3× the ceiling, and which hashing setting to ship\n\n")
	b.WriteString(c.header(started,
		fmt.Sprintf("Flood: perf/cmd/loadgen, open loop (arrivals on a fixed schedule, each on its own goroutine; latency counted from the scheduled time): "+
			"GET /auth/me at %g/s for the whole %s, and POST /auth/login at %.1f/s (%g× the first ceiling) from %s to %s; 20 users round-robin",
			*meRate, end, loginRate, *factor, floodFrom, floodTo),
		fmt.Sprintf("Phases: rest = /auth/me scheduled in [1 s, %s) and from 0.5 s after the last login answered to %s (the first second, and the seconds after the flood while queued logins still hash, are left out); "+
			"flood = /auth/me scheduled in [%s, %s); login throughput in the flood = login 200s completed in [%s, %s) (the pool saturated)", floodFrom, end, floodFrom, floodTo, floodFrom+fill, floodTo),
		fmt.Sprintf("Closed loop: right after each flood run, %d workers log in back to back on the same instance for %s (nothing else running); throughput from the first second to the end, "+
			"as a fraction of the ceiling measured at the start of that round (perf/cmd/ceiling, %d goroutines, cost 10, %s): %s hashes/s", *conc, *closedD, n, *ceilD, list(ceilings)),
		fmt.Sprintf("%d rounds; in each, the ceiling, then every variant in turn; each variant is its own authd process on one private PostgreSQL database, no Redis, limits off, `AUTH_HASH_MAX_WAIT` default (2s), nothing pinned", *rounds),
	))
	b.WriteString("\nMedians over the rounds (each run's figure in brackets). /auth/me latencies in ms; p99 ratio = p99 during the flood ÷ p99 at rest in the same run; " +
		"login fractions are of the ceiling measured in the same round.\n\n")
	b.WriteString("| variant | /auth/me p50 rest → flood | /auth/me p99 rest → flood | p99 ratio | logins/s closed loop (÷ ceiling) | logins/s in the 3× flood (÷ ceiling) | login answers (all runs) | /auth/me answers |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---|---|\n")
	type verdict struct {
		v                    *floodVariant
		ratio, closed, flood float64
		clean                bool
	}
	var verdicts []verdict
	for _, v := range variants {
		var p50r, p50f, p99r, p99f, ratio, ftput, ctput, ffrac, cfrac []float64
		login, me := map[string]int{}, map[string]int{}
		for _, r := range v.runs {
			p50r, p50f = append(p50r, r.meRest.P50), append(p50f, r.meFlood.P50)
			p99r, p99f = append(p99r, r.meRest.P99), append(p99f, r.meFlood.P99)
			ratio = append(ratio, r.meFlood.P99/r.meRest.P99)
			ftput, ctput = append(ftput, r.floodTput), append(ctput, r.closedTput)
			ffrac, cfrac = append(ffrac, r.floodTput/r.ceiling), append(cfrac, r.closedTput/r.ceiling)
			for k, x := range r.login {
				login[k] += x
			}
			for k, x := range r.me {
				me[k] += x
			}
		}
		vd := verdict{v: v, ratio: stats.Median(ratio), closed: stats.Median(cfrac), flood: stats.Median(ffrac),
			clean: onlyAllowed(login, true) && onlyAllowed(me, false)}
		verdicts = append(verdicts, vd)
		fmt.Fprintf(&b, "| %s | %s → %s | %s → %s | %s× [%s] | %s (%.0f%%) [%s] | %s (%.0f%%) [%s] | %s | %s |\n", v.label,
			f(stats.Median(p50r)), f(stats.Median(p50f)), f(stats.Median(p99r)), f(stats.Median(p99f)),
			f(vd.ratio), list(ratio), f(stats.Median(ctput)), 100*vd.closed, pctList(cfrac),
			f(stats.Median(ftput)), 100*vd.flood, pctList(ffrac), countsString(login), countsString(me))
	}
	b.WriteString("\nTargets per variant: closed-loop login throughput at least 90% of the ceiling; /auth/me p99 during the flood at most 5× its p99 at rest; " +
		"no answer other than 200 or 503 with Retry-After (flood and closed loop together).\n\n")
	b.WriteString("| variant | logins ≥ 90% of ceiling | /auth/me p99 ≤ 5× rest | only 200 / 503+Retry-After | all three |\n|---|---|---|---|---|\n")
	for _, vd := range verdicts {
		fmt.Fprintf(&b, "| %s | %.0f%% %s | %s× %s | %s | %s |\n", vd.v.label, 100*vd.closed, yes(vd.closed >= 0.9), f(vd.ratio), yes(vd.ratio <= 5),
			yes(vd.clean), yes(vd.closed >= 0.9 && vd.ratio <= 5 && vd.clean))
	}
	if plotErr != nil {
		fmt.Fprintf(&b, "\n(No plot: %v.)\n", plotErr)
	} else {
		fmt.Fprintf(&b, "\nLatency of every request of the flood runs over time, first round of each variant (log scale; the shaded band is the flood):\n\n![latency over time](%s)\n", filepath.Base(plot))
	}
	return writeHashing(c, "flood", b.String())
}

func list(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, f(x))
	}
	return strings.Join(parts, ", ")
}

// plotFlood draws the first run of each variant with gnuplot, one panel
// each.
func plotFlood(ctx context.Context, st *stack.Stack, out string, variants []*floodVariant, from, to time.Duration, meRate, loginRate float64) error {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		return fmt.Errorf("gnuplot is not installed (go tool task perf:deps)")
	}
	var script strings.Builder
	fmt.Fprintf(&script, "set terminal pngcairo noenhanced size 1100,%d font 'sans,10'\nset output '%s'\n", 360*len(variants)+60, out)
	fmt.Fprintf(&script, "set multiplot layout %d,1 title 'GET /auth/me at %g/s throughout; POST /auth/login at %.0f/s (3x the bcrypt ceiling) in the shaded band'\n", len(variants), meRate, loginRate)
	script.WriteString("set logscale y\nset yrange [0.1:5000]\nset ylabel 'latency (ms)'\nset xlabel 'time since start (s)'\nset key outside right top\nset grid ytics\n")
	fmt.Fprintf(&script, "set object 1 rect from %g, graph 0 to %g, graph 1 fc rgb '#fff0e0' fs solid 1.0 noborder behind\n", from.Seconds(), to.Seconds())
	for i, v := range variants {
		if len(v.runs) == 0 {
			continue
		}
		recs, err := load.ReadCSV(v.runs[0].csv)
		if err != nil {
			return err
		}
		files := map[string]*strings.Builder{"me": {}, "login200": {}, "login503": {}, "other": {}}
		for _, r := range recs {
			k := "other"
			switch {
			case r.Endpoint == "me" && r.Status == 200 && r.Err == "":
				k = "me"
			case r.Endpoint == "login" && r.Status == 200 && r.Err == "":
				k = "login200"
			case r.Endpoint == "login" && r.Status == 503 && r.RetryAfter != "":
				k = "login503"
			}
			fmt.Fprintf(files[k], "%.4f %.4f\n", r.Sched.Seconds(), max(stats.Ms(r.Latency), 0.1))
		}
		var plots []string
		for _, s := range []struct{ k, title, style string }{
			{"me", "/auth/me 200", "pt 7 ps 0.25 lc rgb '#1f77b4'"},
			{"login200", "login 200", "pt 7 ps 0.35 lc rgb '#2ca02c'"},
			{"login503", "login 503 + Retry-After", "pt 7 ps 0.25 lc rgb '#d62728'"},
			{"other", "anything else", "pt 2 ps 0.8 lc rgb 'black'"},
		} {
			path := filepath.Join(st.Dir, fmt.Sprintf("plot-%d-%s.dat", i, s.k))
			if err := os.WriteFile(path, []byte(files[s.k].String()), 0o644); err != nil {
				return err
			}
			if files[s.k].Len() > 0 {
				plots = append(plots, fmt.Sprintf("'%s' using 1:2 with points %s title '%s'", path, s.style, s.title))
			}
		}
		r := v.runs[0]
		// The key and what the instance reports: labels are too long for
		// a panel title.
		title := v.key
		if eff := stack.Effective(v.proc.URL); eff != "" {
			title += " (" + eff + ")"
		}
		fmt.Fprintf(&script, "set title '%s: /auth/me p99 %.2f ms at rest, %.2f ms in the flood; %.1f logins/s served in the flood'\n", title, r.meRest.P99, r.meFlood.P99, r.floodTput)
		fmt.Fprintf(&script, "plot %s\n", strings.Join(plots, ", "))
	}
	script.WriteString("unset multiplot\n")
	sp := filepath.Join(st.Dir, "flood.gp")
	if err := os.WriteFile(sp, []byte(script.String()), 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "gnuplot", sp).CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}
