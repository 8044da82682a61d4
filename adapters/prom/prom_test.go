package prom_test

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/authd/authd/adapters/prom"
)

// scrape serves one GET through the handler, as Prometheus would, and
// parses the answer.
func scrape(t *testing.T, m *prom.Metrics, header ...string) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("the answer does not parse: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include want (name,
// value pairs), failing the test when there is none.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s has no series with %v", name, want)
	return nil
}

// value is a counter's or gauge's value.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := find(t, fams, name, labels...)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	t.Fatalf("%s%v is neither counter nor gauge", name, labels)
	return 0
}

func TestRequestsByMethodRouteAndStatus(t *testing.T) {
	m := prom.New(prom.Sources{Version: "v1.2.3"})
	m.ObserveRequest("GET", "/auth/me", 200, 300*time.Microsecond)
	m.ObserveRequest("GET", "/auth/me", 200, 700*time.Microsecond)
	m.ObserveRequest("GET", "/auth/me", 401, 2*time.Millisecond)
	m.ObserveRequest("POST", "/auth/login", 200, 3*time.Second)
	m.ObserveRequest("BREW", "unmatched", 404, time.Millisecond) // RFC 2324 aside, not a method we know

	fams := scrape(t, m)
	for _, c := range []struct {
		method, route, status string
		want                  float64
	}{
		{"GET", "/auth/me", "200", 2},
		{"GET", "/auth/me", "401", 1},
		{"POST", "/auth/login", "200", 1},
		{"other", "unmatched", "404", 1},
	} {
		if got := value(t, fams, "authd_http_requests_total", "method", c.method, "route", c.route, "status", c.status); got != c.want {
			t.Errorf("requests %s %s %s = %v, want %v", c.method, c.route, c.status, got, c.want)
		}
	}
	if n := len(fams["authd_http_requests_total"].GetMetric()); n != 4 {
		t.Errorf("%d request series, want 4", n)
	}
	if fams["authd_http_request_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Fatal("latency is not a histogram")
	}

	h := find(t, fams, "authd_http_request_duration_seconds", "method", "GET", "route", "/auth/me", "status", "200").GetHistogram()
	if h.GetSampleCount() != 2 || !near(h.GetSampleSum(), 0.001) {
		t.Errorf("GET /auth/me 200: count %d, sum %v; want 2 and 0.001", h.GetSampleCount(), h.GetSampleSum())
	}
	// Cumulative buckets: the 0.3 ms answer is below the first bound, the
	// 0.7 ms one only from 1 ms on.
	wantCumulative := map[float64]uint64{0.0005: 1, 0.001: 2, 10: 2}
	for _, b := range h.GetBucket() {
		if want, ok := wantCumulative[b.GetUpperBound()]; ok && b.GetCumulativeCount() != want {
			t.Errorf("le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// From half a millisecond (a cached read) to 10 s, and +Inf.
	if b := h.GetBucket(); len(b) != 15 || b[0].GetUpperBound() != 0.0005 || b[13].GetUpperBound() != 10 {
		t.Errorf("buckets %v", b)
	}
	slow := find(t, fams, "authd_http_request_duration_seconds", "route", "/auth/login").GetHistogram()
	for _, b := range slow.GetBucket() {
		in := b.GetUpperBound() >= 5
		if got := b.GetCumulativeCount() == 1; got != in {
			t.Errorf("a 3 s login: le=%v holds %d", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}

	build := find(t, fams, "authd_build_info", "version", "v1.2.3")
	if build.GetGauge().GetValue() != 1 {
		t.Errorf("authd_build_info = %v", build.GetGauge().GetValue())
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// The series cache must not lose or double count under concurrency (run
// with -race), including when many goroutines meet a new combination at
// once.
func TestObserveRequestConcurrently(t *testing.T) {
	m := prom.New(prom.Sources{})
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				// Ten statuses shared by every goroutine, met in a
				// different order by each.
				m.ObserveRequest("GET", "/auth/me", 200+(i+g)%10, time.Millisecond)
			}
		})
	}
	wg.Wait()
	fams := scrape(t, m)
	total := 0.0
	for s := 200; s < 210; s++ {
		total += value(t, fams, "authd_http_requests_total", "status", strconv.Itoa(s))
	}
	if total != goroutines*each {
		t.Errorf("counted %v requests, want %d", total, goroutines*each)
	}
}

func TestSourcesAreReadOnEveryScrape(t *testing.T) {
	var (
		mu        sync.Mutex
		pool      = prom.HashPoolStats{Workers: 2, MaxQueue: 64}
		cache     prom.CacheStats
		local     prom.LocalCacheStats
		db        = sql.DBStats{MaxOpenConnections: 8}
		users     atomic.Int64
		fallbacks atomic.Int64
	)
	m := prom.New(prom.Sources{
		HashPool:   func() prom.HashPoolStats { mu.Lock(); defer mu.Unlock(); return pool },
		Cache:      func() prom.CacheStats { mu.Lock(); defer mu.Unlock(); return cache },
		LocalCache: func() prom.LocalCacheStats { mu.Lock(); defer mu.Unlock(); return local },
		DB:         func() sql.DBStats { mu.Lock(); defer mu.Unlock(); return db },
		PendingRepairs: map[string]func() int{
			"users":    func() int { return int(users.Load()) },
			"sessions": func() int { return 0 },
		},
		LimiterFallbacks: fallbacks.Load,
	})

	before := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"authd_hash_workers", nil, 2},
		{"authd_hash_queue_capacity", nil, 64},
		{"authd_hash_in_flight", nil, 0},
		{"authd_hash_rejected_total", nil, 0},
		{"authd_cache_hits_total", []string{"layer", "local"}, 0},
		{"authd_cache_misses_total", nil, 0},
		{"authd_db_max_open_connections", nil, 8},
		{"authd_db_in_use_connections", nil, 0},
		{"authd_cache_pending_repairs", []string{"store", "users"}, 0},
		{"authd_ratelimit_fallbacks_total", nil, 0},
	} {
		if got := value(t, before, c.name, c.labels...); got != c.want {
			t.Errorf("before: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	mu.Lock()
	pool.InFlight, pool.Queued, pool.Rejected, pool.Abandoned = 2, 5, 3, 1
	pool.Waits, pool.WaitSum, pool.HashEstimate = 4, 1500*time.Millisecond, 37*time.Millisecond
	cache = prom.CacheStats{LocalHits: 90, RedisHits: 7, Misses: 3, Errors: 2}
	local = prom.LocalCacheStats{Entries: 12, Evictions: 4}
	db.OpenConnections, db.InUse, db.Idle = 5, 3, 2
	db.WaitCount, db.WaitDuration = 6, 250*time.Millisecond
	db.MaxIdleClosed, db.MaxLifetimeClosed = 9, 1
	mu.Unlock()
	users.Store(2)
	fallbacks.Store(11)

	after := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"authd_hash_in_flight", nil, 2},
		{"authd_hash_queued", nil, 5},
		{"authd_hash_rejected_total", nil, 3},
		{"authd_hash_abandoned_total", nil, 1},
		{"authd_hash_duration_estimate_seconds", nil, 0.037},
		{"authd_cache_hits_total", []string{"layer", "local"}, 90},
		{"authd_cache_hits_total", []string{"layer", "redis"}, 7},
		{"authd_cache_misses_total", nil, 3},
		{"authd_cache_errors_total", nil, 2},
		{"authd_cache_entries", nil, 12},
		{"authd_cache_evictions_total", nil, 4},
		{"authd_db_open_connections", nil, 5},
		{"authd_db_in_use_connections", nil, 3},
		{"authd_db_idle_connections", nil, 2},
		{"authd_db_waits_total", nil, 6},
		{"authd_db_wait_seconds_total", nil, 0.25},
		{"authd_db_closed_connections_total", []string{"reason", "max_idle"}, 9},
		{"authd_db_closed_connections_total", []string{"reason", "max_lifetime"}, 1},
		{"authd_cache_pending_repairs", []string{"store", "users"}, 2},
		{"authd_cache_pending_repairs", []string{"store", "sessions"}, 0},
		{"authd_ratelimit_fallbacks_total", nil, 11},
	} {
		if got := value(t, after, c.name, c.labels...); !near(got, c.want) {
			t.Errorf("after: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	wait := find(t, after, "authd_hash_wait_seconds").GetSummary()
	if wait == nil || wait.GetSampleCount() != 4 || !near(wait.GetSampleSum(), 1.5) {
		t.Errorf("authd_hash_wait_seconds = %v, want count 4, sum 1.5", wait)
	}
	for name, typ := range map[string]dto.MetricType{
		"authd_hash_rejected_total": dto.MetricType_COUNTER, "authd_hash_queued": dto.MetricType_GAUGE,
		"authd_hash_wait_seconds": dto.MetricType_SUMMARY, "authd_cache_hits_total": dto.MetricType_COUNTER,
		"authd_db_in_use_connections": dto.MetricType_GAUGE, "authd_db_wait_seconds_total": dto.MetricType_COUNTER,
		"authd_ratelimit_fallbacks_total": dto.MetricType_COUNTER,
	} {
		if got := after[name].GetType(); got != typ {
			t.Errorf("%s is a %v, want %v", name, got, typ)
		}
	}
}

func TestAbsentSourcesExportNothing(t *testing.T) {
	fams := scrape(t, prom.New(prom.Sources{PendingRepairs: map[string]func() int{"users": nil}}))
	for name := range fams {
		for _, prefix := range []string{"authd_hash_", "authd_cache_", "authd_db_", "authd_ratelimit_"} {
			if strings.HasPrefix(name, prefix) {
				t.Errorf("%s exported without a source", name)
			}
		}
	}
}

func TestRuntimeAndProcessMetrics(t *testing.T) {
	fams := scrape(t, prom.New(prom.Sources{}))
	for _, name := range []string{
		"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds", "go_sched_gomaxprocs_threads",
		"go_sched_latencies_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"process_open_fds", "process_start_time_seconds",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	if value(t, fams, "go_goroutines") < 1 {
		t.Error("go_goroutines below 1")
	}
}

// Each Metrics has a registry of its own: two in one process (parallel
// tests, or two servers) neither panic on registration nor see each
// other's requests.
func TestRegistriesArePrivate(t *testing.T) {
	a, b := prom.New(prom.Sources{}), prom.New(prom.Sources{})
	a.ObserveRequest("GET", "/healthz", 200, time.Millisecond)
	if _, ok := scrape(t, b)["authd_http_requests_total"]; ok {
		t.Error("b reports a's request")
	}
	if value(t, scrape(t, a), "authd_http_requests_total", "route", "/healthz") != 1 {
		t.Error("a lost its request")
	}
}

func TestCompressedWhenAsked(t *testing.T) {
	m := prom.New(prom.Sources{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("HTTP %d, Content-Encoding %q", w.Code, w.Header().Get("Content-Encoding"))
	}
	// A scraper asking for protobuf or OpenMetrics still gets the text
	// format, the one the OpenAPI document describes.
	scrape(t, m, "Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.3")
}
