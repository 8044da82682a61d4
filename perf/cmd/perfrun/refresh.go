package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/perf/internal/load"
	"github.com/authd/authd/perf/internal/report"
	"github.com/authd/authd/perf/internal/stack"
	"github.com/authd/authd/perf/internal/stats"
)

const refreshTitle = "POST /auth/refresh: open-loop peak, side by side with GET /auth/me"

// hashCounters are the hashing pool's counters on /metrics: every password
// hash is admitted (counted by the wait summary), rejected or abandoned, so
// their sum moves with any bcrypt work at all.
var hashCounters = []string{"authd_hash_wait_seconds_count", "authd_hash_rejected_total", "authd_hash_abandoned_total"}

// refreshStep is one loadgen run: one endpoint at one rate.
type refreshStep struct {
	round    int
	endpoint string // "refresh" or "me"
	rate     float64
	recs     []load.Record
}

// refreshCell is what the report says of one endpoint at one rate, all
// rounds pooled.
type refreshCell struct {
	offered, achieved float64 // a second
	lat               stats.Summary
	answers           map[string]int
	p50s, p99s        []float64 // per round, for the ratios
}

func runRefresh(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("refresh", flag.ExitOnError)
	c.register(fs)
	ratesFlag := fs.String("rates", "100,200,400,800,1600,3200", "open-loop arrival rates a second, the ladder climbed each round")
	d := fs.Duration("d", 5*time.Second, "length of one step (one endpoint at one rate)")
	rounds := fs.Int("rounds", 2, "climbs of the ladder; the endpoints take turns going first at each rate")
	warm := fs.Duration("warmup", 3*time.Second, "discarded warm-up of each endpoint before the first round")
	warmRate := fs.Float64("warmup-rate", 200, "arrivals a second in the warm-up")
	pause := fs.Duration("pause", time.Second, "quiet time between steps")
	timeout := fs.Duration("timeout", 10*time.Second, "loadgen's per-request timeout")
	accounts := fs.Int("accounts", 100, "accounts whose sessions are refreshed")
	sessions := fs.Int("sessions", 20, "sessions (logins) per account; each is one refreshing client")
	meUsers := fs.Int("me-users", 20, "other accounts, one session each, whose tokens GET /auth/me")
	_ = fs.Parse(args)
	var rates []float64
	for _, s := range strings.Split(*ratesFlag, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-rates: bad rate %q", s)
		}
		rates = append(rates, r)
	}
	slices.Sort(rates)
	if *rounds < 1 || *accounts < 1 || *sessions < 1 || *meUsers < 1 {
		return fmt.Errorf("-rounds, -accounts, -sessions and -me-users must be at least 1")
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
	// Users log in through a second instance with the credential cache on,
	// so making 2000 sessions costs one bcrypt run per account, and the
	// instance measured never hashes a password: its hashing counters must
	// stay at zero through refreshes.
	seed, err := st.Authd(ctx, "authd-seed", "", append(st.AuthdEnv(db), "AUTH_CREDENTIAL_CACHE_TTL=10m"))
	if err != nil {
		return err
	}
	srv, err := st.Authd(ctx, "authd", "", append(st.AuthdEnv(db), "AUTH_REDIS_URL="+rd.URL))
	if err != nil {
		return err
	}
	eff := stack.Effective(srv.URL)
	if eff == "" {
		eff = "nothing on /metrics"
	}
	refreshUsers := filepath.Join(st.Dir, "refresh-users.json")
	meFile := filepath.Join(st.Dir, "me-users.json")
	logf("registering %d accounts × %d sessions for refresh, %d accounts for /auth/me", *accounts, *sessions, *meUsers)
	for _, r := range []struct {
		file, prefix string
		n, sessions  int
	}{{refreshUsers, "perfrefresh", *accounts, *sessions}, {meFile, "perfme", *meUsers, 1}} {
		if _, err := st.Run(ctx, "loadgen-register", "", nil, st.Tool("loadgen"), "register", "-url", seed.URL,
			"-n", strconv.Itoa(r.n), "-sessions", strconv.Itoa(r.sessions), "-prefix", r.prefix, "-out", r.file); err != nil {
			return err
		}
	}
	if n, missing, err := refreshTokens(refreshUsers); err != nil || missing > 0 {
		return fmt.Errorf("%s: %d of %d users without a refresh token (%v)", refreshUsers, missing, n, err)
	}
	nRefresh := *accounts * *sessions

	before, err := readCounters(srv.URL, hashCounters)
	if err != nil {
		return err
	}
	step := func(name, endpoint string, rate float64, d time.Duration) ([]load.Record, error) {
		csvPath := filepath.Join(st.Dir, name+".csv")
		args := []string{"run", "-csv", csvPath, "-timeout", timeout.String(),
			"-stream", fmt.Sprintf("%s,open=%g,0s-%s,url=%s", endpoint, rate, d, srv.URL)}
		if endpoint == "refresh" {
			// Rotation goes on from one step to the next.
			args = append(args, "-users", refreshUsers, "-save", refreshUsers)
		} else {
			args = append(args, "-users", meFile)
		}
		tctx, cancel := context.WithTimeout(ctx, d+*timeout+30*time.Second)
		defer cancel()
		out, err := st.Run(tctx, "loadgen-"+name, "", nil, st.Tool("loadgen"), args...)
		if err != nil {
			return nil, err
		}
		logf("%s: %s", name, strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "; "))
		recs, err := load.ReadCSV(csvPath)
		if err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(*pause):
		}
		return recs, nil
	}
	for _, ep := range []string{"refresh", "me"} {
		if _, err := step("warmup-"+ep, ep, *warmRate, *warm); err != nil {
			return err
		}
	}
	var steps []refreshStep
	for r := range *rounds {
		for i, rate := range rates {
			order := []string{"refresh", "me"}
			if (r+i)%2 == 1 {
				order = []string{"me", "refresh"}
			}
			for _, ep := range order {
				recs, err := step(fmt.Sprintf("%s-%g-%d", ep, rate, r+1), ep, rate, *d)
				if err != nil {
					return err
				}
				steps = append(steps, refreshStep{round: r + 1, endpoint: ep, rate: rate, recs: recs})
			}
		}
	}
	after, err := readCounters(srv.URL, hashCounters)
	if err != nil {
		return err
	}
	_, retired, err := refreshTokens(refreshUsers)
	if err != nil {
		return err
	}

	cells := map[string]map[float64]*refreshCell{"refresh": {}, "me": {}}
	for _, ep := range []string{"refresh", "me"} {
		for _, rate := range rates {
			cell := &refreshCell{answers: map[string]int{}}
			var lat []float64
			var sched, done int
			for _, s := range steps {
				if s.endpoint != ep || s.rate != rate {
					continue
				}
				l := latencies(s.recs, ep, [2]time.Duration{0, *d})
				sum := stats.Summarize(slices.Clone(l))
				cell.p50s, cell.p99s = append(cell.p50s, sum.P50), append(cell.p99s, sum.P99)
				lat = append(lat, l...)
				sched += len(s.recs)
				for _, r := range s.recs {
					if r.Status == 200 && r.Err == "" && r.End() < *d {
						done++
					}
				}
				for k, n := range counts(s.recs, ep) {
					cell.answers[k] += n
				}
			}
			total := float64(*rounds) * d.Seconds()
			cell.offered, cell.achieved = float64(sched)/total, float64(done)/total
			cell.lat = stats.Summarize(lat)
			cells[ep][rate] = cell
		}
	}

	redisVersion := firstLine(exec.Command("redis-server", "--version").Output())
	pgVersion := firstLine(exec.Command("psql", append(append([]string{}, stack.PostgresAdmin...), "-tAc", "show server_version", "postgres")...).Output())
	var b strings.Builder
	b.WriteString("## Results\n\n")
	b.WriteString(c.header(started,
		fmt.Sprintf("Load: perf/cmd/loadgen, open loop (arrivals on a fixed schedule, each on its own goroutine; latency counted from the scheduled time, so queueing shows), "+
			"one loadgen process per step; a step is one endpoint at one rate for %s; rates %s a second; %d rounds, each climbing the whole ladder, "+
			"the two endpoints taking turns going first at each rate; a %s pause after every step; per-request timeout %s", *d, *ratesFlag, *rounds, *pause, *timeout),
		fmt.Sprintf("POST /auth/refresh: %d sessions (%d accounts × %d logins), round-robin; each request presents that session's current refresh token and a 200 stores the new one "+
			"(carried from step to step); a session never has two refreshes in flight: one still waiting is skipped for the next free one, and when none is free the request is not sent "+
			"and counts as \"no-free-user\"", nRefresh, *accounts, *sessions),
		fmt.Sprintf("GET /auth/me: %d other accounts' bearer tokens, round-robin (sessions never refreshed: the cached path, as in me-cache.md); "+
			"warm-up before the first round: each endpoint at %g/s for %s, discarded", *meUsers, *warmRate, *warm),
		"authd measured: one instance, `AUTH_REDIS_URL` set (client-side caching), on a private PostgreSQL database; limits off, `AUTH_LOG_LEVEL=warn`, every other setting default "+
			"(`AUTH_REFRESH_REUSE_INTERVAL=10s`; it reported "+eff+"); nothing pinned. Users registered and logged in through a second instance on the same database "+
			"(no Redis, `AUTH_CREDENTIAL_CACHE_TTL=10m`), idle while measuring, so the measured instance never hashed a password",
		fmt.Sprintf("Services: PostgreSQL %s (the machine's server, a private database created and dropped by the run); %s, private, no persistence", pgVersion, redisVersion),
		"Figures: offered = requests scheduled a second (\"no-free-user\" included); achieved = 200s completed within their step's window, a second; "+
			"latencies (ms) of the 200s scheduled in the window, all rounds pooled; answers other than 200 summed over the rounds",
	))
	b.WriteString("\n| rate /s | endpoint | offered /s | achieved /s (÷ offered) | p50 ms | p90 ms | p99 ms | max ms | answers other than 200 |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, rate := range rates {
		for _, ep := range []string{"refresh", "me"} {
			cl := cells[ep][rate]
			fmt.Fprintf(&b, "| %g | %s | %s | %s (%.0f%%) | %s | %s | %s | %s | %s |\n", rate, endpointName(ep), f(cl.offered), f(cl.achieved),
				100*cl.achieved/cl.offered, f(cl.lat.P50), f(cl.lat.P90), f(cl.lat.P99), f(cl.lat.Max), orNone(others(cl.answers)))
		}
	}
	b.WriteString("\nrefresh ÷ me at each rate (all rounds pooled; each round's ratio in brackets):\n\n")
	b.WriteString("| rate /s | p50 ratio | p99 ratio |\n|---:|---:|---:|\n")
	for _, rate := range rates {
		rf, me := cells["refresh"][rate], cells["me"][rate]
		fmt.Fprintf(&b, "| %g | %s× [%s] | %s× [%s] |\n", rate, f(rf.lat.P50/me.lat.P50), list(divide(rf.p50s, me.p50s)),
			f(rf.lat.P99/me.lat.P99), list(divide(rf.p99s, me.p99s)))
	}
	b.WriteString("\nThe knee: the first rate where achieved falls below 95% of offered, or p99 climbs past 10× its value at the lowest rate.\n\n")
	for _, ep := range []string{"refresh", "me"} {
		fmt.Fprintf(&b, "- %s: %s\n", endpointName(ep), knee(cells[ep], rates))
	}
	peak := 0.0
	for _, rate := range rates {
		peak = max(peak, cells["refresh"][rate].achieved)
	}
	fmt.Fprintf(&b, "- Most refreshes completed a second at any rate: **%s**.\n", f(peak))

	var hashDelta float64
	var deltas []string
	for _, k := range hashCounters {
		hashDelta += after[k] - before[k]
		deltas = append(deltas, fmt.Sprintf("`%s` %g → %g", k, before[k], after[k]))
	}
	fmt.Fprintf(&b, "\nPassword hashing on the measured instance across the warm-up and every step (its /metrics, read before and after; "+
		"they count from authd's start, which hashes once for the dummy hash unknown emails are compared against): %s; change **%g** (%s).\n",
		strings.Join(deltas, ", "), hashDelta, map[bool]string{true: "refresh never hashes, as it should", false: "**refresh reached bcrypt**"}[hashDelta == 0])
	var unauthorized int
	for _, s := range steps {
		for _, r := range s.recs {
			if s.endpoint == "refresh" && r.Status == 401 {
				unauthorized++
			}
		}
	}
	fmt.Fprintf(&b, "\nRotation: %d refresh answers were 401 (a reused or revoked token; 0 means loadgen's rotation never presented a spent token); "+
		"%d of %d sessions were retired because a refresh got no answer and their token was left unknown.\n", unauthorized, retired, nRefresh)

	b.WriteString("\n<details><summary>Every step, in the order run</summary>\n\n")
	b.WriteString("| round | rate /s | endpoint | achieved /s | p50 ms | p99 ms | max ms | answers | loadgen send lag p99 ms |\n|---:|---:|---|---:|---:|---:|---:|---|---:|\n")
	for _, s := range steps {
		sum := stats.Summarize(latencies(s.recs, s.endpoint, [2]time.Duration{0, *d}))
		var lag []float64
		for _, r := range s.recs {
			lag = append(lag, stats.Ms(r.Start-r.Sched))
		}
		fmt.Fprintf(&b, "| %d | %g | %s | %s | %s | %s | %s | %s | %s |\n", s.round, s.rate, s.endpoint, f(throughput(s.recs, s.endpoint, 0, *d)),
			f(sum.P50), f(sum.P99), f(sum.Max), countsString(counts(s.recs, s.endpoint)), f(stats.Percentile(lag, 99)))
	}
	b.WriteString("\n</details>\n")

	out := filepath.Join(c.results, "refresh.md")
	if err := report.WriteSection(out, refreshTitle, "refresh", b.String()); err != nil {
		return err
	}
	logf("wrote %s", out)
	if unauthorized > 0 || hashDelta != 0 {
		return fmt.Errorf("%d refresh answers were 401 and hashing moved by %g: see %s", unauthorized, hashDelta, out)
	}
	return nil
}

func endpointName(ep string) string {
	if ep == "refresh" {
		return "POST /auth/refresh"
	}
	return "GET /auth/me"
}

// knee names the first rate past which ep stops keeping up, and why.
func knee(cells map[float64]*refreshCell, rates []float64) string {
	base := cells[rates[0]].lat.P99
	last := ""
	for _, rate := range rates {
		cl := cells[rate]
		var why []string
		if cl.achieved < 0.95*cl.offered {
			why = append(why, fmt.Sprintf("achieved %s/s, %.0f%% of offered", f(cl.achieved), 100*cl.achieved/cl.offered))
		}
		if cl.lat.P99 > 10*base || cl.lat.N == 0 {
			why = append(why, fmt.Sprintf("p99 %s ms, %s× the %s ms at %g/s", f(cl.lat.P99), f(cl.lat.P99/base), f(base), rates[0]))
		}
		if len(why) > 0 {
			s := fmt.Sprintf("knee at **%g/s** (%s)", rate, strings.Join(why, "; "))
			if last != "" {
				s += "; it kept up at " + last
			}
			return s
		}
		last = fmt.Sprintf("%g/s (achieved %s/s, p99 %s ms)", rate, f(cl.achieved), f(cl.lat.P99))
	}
	return fmt.Sprintf("no knee up to %g/s: kept up at every rate, the last at %s", rates[len(rates)-1], last)
}

// others is the answers other than 200.
func others(m map[string]int) map[string]int {
	o := map[string]int{}
	for k, n := range m {
		if k != "200" {
			o[k] = n
		}
	}
	return o
}

func orNone(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	return countsString(m)
}

func divide(xs, ys []float64) []float64 {
	var out []float64
	for i := range min(len(xs), len(ys)) {
		out = append(out, xs[i]/ys[i])
	}
	return out
}

// readCounters reads unlabelled samples from url's /metrics.
func readCounters(url string, names []string) (map[string]float64, error) {
	m := map[string]float64{}
	for _, n := range names {
		v, err := stack.Metric(url, n)
		if err != nil {
			return nil, err
		}
		m[n] = v
	}
	return m, nil
}

// refreshTokens counts the users in a loadgen users file and those holding
// no refresh token.
func refreshTokens(path string) (n, missing int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var us []struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &us); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	for _, u := range us {
		if u.RefreshToken == "" {
			missing++
		}
	}
	return len(us), missing, nil
}
