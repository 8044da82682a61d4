package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// A running authd serves its hashing pool, cache, database pool, request
// and Go runtime metrics at /metrics, and logs one line per request with
// the email masked. On embedded SQLite with the in-process cache always;
// on PostgreSQL with Redis where those are available, which adds the Redis
// cache layer and the rate limiter's fallback counter.
func TestMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		inst := start(t, map[string]string{"AUTH_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "authd.db")})
		m := exercise(t, inst)
		if m.get(t, `authd_cache_hits_total{layer="local"}`) < 1 {
			t.Error("no local cache hit after two authenticated reads")
		}
		m.get(t, "authd_cache_entries")
		m.get(t, "authd_cache_evictions_total")
	})
	t.Run("PostgresRedis", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("redis-server"); err != nil {
			requireURL(t, "AUTH_TEST_NO_SUCH_VARIABLE") // skips, or fails where services are required
		}
		port := freePort(t)
		startOwnRedis(t, port)
		inst := start(t, map[string]string{
			"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", port),
			"AUTH_JWT_SECRET": testSecret(t),
		})
		m := exercise(t, inst)
		if m.get(t, `authd_cache_hits_total{layer="local"}`)+m.get(t, `authd_cache_hits_total{layer="redis"}`) < 1 {
			t.Error("no cache hit after two authenticated reads")
		}
		if v := m.get(t, "authd_ratelimit_fallbacks_total"); v != 0 {
			t.Errorf("%v rate-limit fallbacks with Redis up", v)
		}
		if v := m.get(t, "authd_cache_errors_total"); v != 0 {
			t.Errorf("%v cache errors with Redis up", v)
		}
	})
}

// exercise registers, logs in and reads /auth/me twice, checks the access
// log and the families every configuration has, and returns the scrape.
func exercise(t *testing.T, inst *instance) metrics {
	t.Helper()
	email := uniqueEmail(t)
	tok := inst.registerAndLogin(t, email)
	for range 2 {
		expect(t, inst.do(t, "GET", "/auth/me", tok.access, nil), 200)
	}

	r := inst.do(t, "GET", "/metrics", "", nil)
	expect(t, r, 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	m := parseMetrics(t, string(r.Body))
	for _, c := range []struct {
		series string
		min    float64
	}{
		{`authd_http_requests_total{method="POST",route="/auth/register",status="201"}`, 1},
		{`authd_http_requests_total{method="GET",route="/auth/me",status="200"}`, 2},
		{`authd_http_request_duration_seconds_count{method="POST",route="/auth/login",status="200"}`, 1},
		{"authd_hash_workers", 1},
		{"authd_hash_queue_capacity", 1},
		{"authd_hash_in_flight", 0},
		{"authd_hash_queued", 0},
		{"authd_hash_rejected_total", 0},
		{"authd_hash_wait_seconds_count", 2}, // the registration's hash and the login's compare
		{"authd_hash_wait_seconds_sum", 0},
		{"authd_cache_misses_total", 0},
		{`authd_cache_pending_repairs{store="sessions"}`, 0},
		{"authd_db_max_open_connections", 1},
		{"authd_db_open_connections", 1},
		{"authd_db_in_use_connections", 0},
		{"authd_db_idle_connections", 0},
		{"authd_db_waits_total", 0},
		{"authd_db_wait_seconds_total", 0},
		{"go_goroutines", 1},
		{"go_memstats_heap_alloc_bytes", 1},
		{"go_sched_latencies_seconds_count", 1},
		{"process_cpu_seconds_total", 0},
		{"process_resident_memory_bytes", 1},
	} {
		if v := m.get(t, c.series); v < c.min {
			t.Errorf("%s = %v, want at least %v", c.series, v, c.min)
		}
	}
	if m.get(t, `authd_build_info{goversion="`+runtime.Version()+`",version="dev"}`) != 1 {
		t.Error("authd_build_info")
	}

	// The access log: one line per request, the email masked, nothing
	// secret. The instance logs JSON at debug.
	logs := inst.logs.String()
	masked := email[:1] + "***@example.com"
	var login, me int
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, `"msg":"request"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"route":"/auth/login"`):
			login++
			if !strings.Contains(line, `"email":"`+masked+`"`) || !strings.Contains(line, `"status":200`) ||
				!strings.Contains(line, `"request_id":"`) || !strings.Contains(line, `"duration_ms":`) {
				t.Errorf("login line: %s", line)
			}
		case strings.Contains(line, `"route":"/auth/me"`):
			me++
		}
	}
	if login != 1 || me != 2 {
		t.Errorf("%d login and %d /auth/me access lines, want 1 and 2", login, me)
	}
	for _, secret := range []string{"strongpass123", email, tok.access, tok.refresh} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %.6s…", secret)
		}
	}
	return m
}

// metrics maps each series of a text-format scrape ("name{labels}") to its
// value.
type metrics map[string]float64

func parseMetrics(t *testing.T, body string) metrics {
	t.Helper()
	m := metrics{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("not a sample line: %q", line)
		}
		m[line[:i]] = v
	}
	return m
}

func (m metrics) get(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := m[series]
	if !ok {
		t.Fatalf("no series %s", series)
	}
	return v
}
