// Package prom exports authd's metrics in the Prometheus text format, with
// client_golang. It is named for the technology it wraps without taking the
// name of client_golang's own prometheus package.
//
// It knows none of the adapters it reports on. cmd/authd hands it functions
// (Sources) that read each adapter's own counters; they are called on every
// scrape, so a scrape shows what the adapters counted, never a copy that
// could drift from it. The one thing prom counts itself is HTTP requests,
// through ObserveRequest, which the rest adapter calls once per request.
//
// Everything is registered on a private registry, never client_golang's
// global default, so two servers in one process (tests) do not collide and
// no library can slip its own metrics into authd's.
package prom

import (
	"database/sql"
	"maps"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Sources are the functions a scrape reads. A nil one leaves its metrics
// out: an instance without Redis has no rate-limiter fallbacks to report,
// one with caching off has no cache. Each is called once per scrape, from
// the scraping goroutine, and must be safe to call concurrently with the
// adapter's own work.
type Sources struct {
	// Version is the build's version, exported as authd_build_info.
	Version string

	// HashPool reads the bounded password-hashing pool.
	HashPool func() HashPoolStats
	// Cache reads the cache in front of the stores.
	Cache func() CacheStats
	// LocalCache reads what only an in-process cache knows: its size and
	// evictions. Nil for Redis, whose client-side cache does not say.
	LocalCache func() LocalCacheStats
	// DB reads the database connection pool.
	DB func() sql.DBStats
	// PendingRepairs reads, per store name ("users", "sessions"), how many
	// cache keys wait to be written again after a failed cache write.
	PendingRepairs map[string]func() int
	// LimiterFallbacks reads how many rate-limit calls were answered from
	// process memory because the shared limiter (Redis) failed, and how
	// many batched flushes of counts Redis failed to take (they stay in
	// memory and are sent again).
	LimiterFallbacks func() int64
}

// HashPoolStats is a snapshot of the password-hashing pool. Workers,
// MaxQueue, InFlight, Queued and HashEstimate are gauges; the rest count
// since the pool was made.
type HashPoolStats struct {
	Workers, MaxQueue, InFlight, Queued int
	Rejected, Abandoned                 uint64
	// Waits is how many requests got a worker and WaitSum how long they
	// queued for it in total, so rate(sum)/rate(count) is the mean wait.
	Waits   uint64
	WaitSum time.Duration
	// HashEstimate is what the pool believes one hash takes.
	HashEstimate time.Duration
}

// CacheStats counts cache lookups by where they were answered, since the
// cache was made.
type CacheStats struct {
	LocalHits int64 // from this process's memory (in-process or client-side cache)
	RedisHits int64 // by Redis
	Misses    int64
	Errors    int64 // failed reads and writes
}

// LocalCacheStats describes an in-process cache.
type LocalCacheStats struct {
	Entries   int
	Evictions int64 // entries dropped to make room, since the cache was made
}

// Metrics is authd's registry. ObserveRequest is safe for concurrent use;
// Handler serves the registry.
type Metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// series caches the counter and histogram of every label combination
	// seen so far, so that the per-request path is one map read rather
	// than two label hashes and lookups under the vectors' locks. The map
	// is never changed once published: a new combination copies it (under
	// mu), which happens a few dozen times in a process's life.
	mu     sync.Mutex
	series atomic.Pointer[map[seriesKey]series]
}

type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// latencyBuckets are the upper bounds, in seconds, of the request-duration
// histogram. They start at half a millisecond because an authenticated
// read answered from the cache takes well under one, and reach 10 s, past
// the hashing pool's admission bound and the server's write timeout.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New builds the registry: HTTP request metrics, the Go runtime and the
// process, and one collector per non-nil source.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authd_http_request_duration_seconds",
			Help:    "Time from a request reaching the router to its answer being written, by method, route template and status code.",
			Buckets: latencyBuckets,
		}, []string{"method", "route", "status"}),
	}
	m.series.Store(&map[seriesKey]series{})

	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "authd_build_info",
		Help:        "Always 1; its labels name the build.",
		ConstLabels: prometheus.Labels{"version": src.Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.reg.MustRegister(
		m.requests, m.latency, build,
		// The scheduler's latency histogram shows goroutines waiting for a
		// core, which is what bcrypt saturating the CPUs looks like from
		// the requests' side.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if src.HashPool != nil {
		m.reg.MustRegister(hashPoolCollector(src.HashPool))
	}
	if src.Cache != nil {
		m.reg.MustRegister(cacheCollector(src.Cache))
	}
	if src.LocalCache != nil {
		m.reg.MustRegister(localCacheCollector(src.LocalCache))
	}
	if src.DB != nil {
		m.reg.MustRegister(dbCollector(src.DB))
	}
	if len(src.PendingRepairs) > 0 {
		m.reg.MustRegister(repairsCollector(src.PendingRepairs))
	}
	if src.LimiterFallbacks != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "authd_ratelimit_fallbacks_total",
			Help: "Rate-limit calls counted in process memory, and batches of counts kept there, because Redis failed; above zero, limits were per instance for a while.",
		}, func() float64 { return float64(src.LimiterFallbacks()) }))
	}

	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Counts its own failures as promhttp_metric_handler_errors_total.
		Registry: m.reg,
		// A collector that fails should cost its own metrics, not the
		// whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// The classic text format only, which is what the OpenAPI document
		// promises and every scraper reads; protobuf would only matter for
		// native histograms, which authd does not use.
		AcceptedFormats: []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain)},
	})
	return m
}

// Handler serves the registry in the Prometheus text format (version
// 0.0.4), gzipped when the client accepts it.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the registry behind Handler, for tests and for code that has
// metrics of its own to add.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest counts one answered request and its duration. route must
// come from a small fixed set (a route template such as "/admin/users/:id",
// or one value for everything unmatched), never a raw path: every distinct
// method, route and status is a series of its own, kept for the life of the
// process. Methods outside the standard ones are counted as "other", since
// a client may send any token there.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	k := seriesKey{method: methodLabel(method), route: route, status: status}
	s, ok := (*m.series.Load())[k]
	if !ok {
		s = m.addSeries(k)
	}
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
}

func (m *Metrics) addSeries(k seriesKey) series {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.series.Load()
	if s, ok := old[k]; ok { // another request added it meanwhile
		return s
	}
	status := strconv.Itoa(k.status)
	s := series{
		requests: m.requests.WithLabelValues(k.method, k.route, status),
		latency:  m.latency.WithLabelValues(k.method, k.route, status),
	}
	next := make(map[seriesKey]series, len(old)+1)
	maps.Copy(next, old)
	next[k] = s
	m.series.Store(&next)
	return s
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// collector reads one source once per scrape, so every metric of a scrape
// comes from one consistent snapshot (the hashing pool's is taken under its
// lock), and emits them as constant metrics.
type collector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func hashPoolCollector(read func() HashPoolStats) prometheus.Collector {
	var (
		workers   = prometheus.NewDesc("authd_hash_workers", "Password hashes that may run at once.", nil, nil)
		capacity  = prometheus.NewDesc("authd_hash_queue_capacity", "Most requests that may wait for a hashing worker.", nil, nil)
		inFlight  = prometheus.NewDesc("authd_hash_in_flight", "Password hashes running now.", nil, nil)
		queued    = prometheus.NewDesc("authd_hash_queued", "Requests waiting for a hashing worker now.", nil, nil)
		rejected  = prometheus.NewDesc("authd_hash_rejected_total", "Requests refused with 503 because the expected wait for a hashing worker was too long.", nil, nil)
		abandoned = prometheus.NewDesc("authd_hash_abandoned_total", "Requests that left the hashing queue because their context ended first.", nil, nil)
		wait      = prometheus.NewDesc("authd_hash_wait_seconds", "Time requests queued for a hashing worker (zero when one was free); _sum/_count is the mean.", nil, nil)
		estimate  = prometheus.NewDesc("authd_hash_duration_estimate_seconds", "Moving average of one hash's duration, which admission works from.", nil, nil)
	)
	return &collector{
		descs: []*prometheus.Desc{workers, capacity, inFlight, queued, rejected, abandoned, wait, estimate},
		collect: func(ch chan<- prometheus.Metric) {
			s := read()
			ch <- gauge(workers, float64(s.Workers))
			ch <- gauge(capacity, float64(s.MaxQueue))
			ch <- gauge(inFlight, float64(s.InFlight))
			ch <- gauge(queued, float64(s.Queued))
			ch <- counter(rejected, float64(s.Rejected))
			ch <- counter(abandoned, float64(s.Abandoned))
			ch <- prometheus.MustNewConstSummary(wait, s.Waits, s.WaitSum.Seconds(), nil)
			ch <- gauge(estimate, s.HashEstimate.Seconds())
		},
	}
}

func cacheCollector(read func() CacheStats) prometheus.Collector {
	var (
		hits   = prometheus.NewDesc("authd_cache_hits_total", "Cache reads answered, by layer: local (process memory, client-side cache included) or redis.", []string{"layer"}, nil)
		misses = prometheus.NewDesc("authd_cache_misses_total", "Cache reads that found no entry and went to the database.", nil, nil)
		errs   = prometheus.NewDesc("authd_cache_errors_total", "Cache reads and writes that failed.", nil, nil)
	)
	return &collector{
		descs: []*prometheus.Desc{hits, misses, errs},
		collect: func(ch chan<- prometheus.Metric) {
			s := read()
			ch <- counter(hits, float64(s.LocalHits), "local")
			ch <- counter(hits, float64(s.RedisHits), "redis")
			ch <- counter(misses, float64(s.Misses))
			ch <- counter(errs, float64(s.Errors))
		},
	}
}

func localCacheCollector(read func() LocalCacheStats) prometheus.Collector {
	var (
		entries   = prometheus.NewDesc("authd_cache_entries", "Entries held by the in-process cache.", nil, nil)
		evictions = prometheus.NewDesc("authd_cache_evictions_total", "Entries the in-process cache dropped to make room; steady growth means AUTH_CACHE_SIZE_MB is too small.", nil, nil)
	)
	return &collector{
		descs: []*prometheus.Desc{entries, evictions},
		collect: func(ch chan<- prometheus.Metric) {
			s := read()
			ch <- gauge(entries, float64(s.Entries))
			ch <- counter(evictions, float64(s.Evictions))
		},
	}
}

func dbCollector(read func() sql.DBStats) prometheus.Collector {
	var (
		maxOpen  = prometheus.NewDesc("authd_db_max_open_connections", "Most connections the pool may open.", nil, nil)
		open     = prometheus.NewDesc("authd_db_open_connections", "Connections open, in use or idle.", nil, nil)
		inUse    = prometheus.NewDesc("authd_db_in_use_connections", "Connections in use.", nil, nil)
		idle     = prometheus.NewDesc("authd_db_idle_connections", "Idle connections.", nil, nil)
		waits    = prometheus.NewDesc("authd_db_waits_total", "Times a query waited for a free connection.", nil, nil)
		waitSecs = prometheus.NewDesc("authd_db_wait_seconds_total", "Time spent waiting for a free connection.", nil, nil)
		closed   = prometheus.NewDesc("authd_db_closed_connections_total", "Connections the pool closed, by reason.", []string{"reason"}, nil)
	)
	return &collector{
		descs: []*prometheus.Desc{maxOpen, open, inUse, idle, waits, waitSecs, closed},
		collect: func(ch chan<- prometheus.Metric) {
			s := read()
			ch <- gauge(maxOpen, float64(s.MaxOpenConnections))
			ch <- gauge(open, float64(s.OpenConnections))
			ch <- gauge(inUse, float64(s.InUse))
			ch <- gauge(idle, float64(s.Idle))
			ch <- counter(waits, float64(s.WaitCount))
			ch <- counter(waitSecs, s.WaitDuration.Seconds())
			ch <- counter(closed, float64(s.MaxIdleClosed), "max_idle")
			ch <- counter(closed, float64(s.MaxIdleTimeClosed), "max_idle_time")
			ch <- counter(closed, float64(s.MaxLifetimeClosed), "max_lifetime")
		},
	}
}

func repairsCollector(read map[string]func() int) prometheus.Collector {
	pending := prometheus.NewDesc("authd_cache_pending_repairs",
		"Cache keys waiting to be written again after a failed cache write, by store; above zero, the cache is failing writes.",
		[]string{"store"}, nil)
	// Copied so that a caller changing its map later cannot race a scrape.
	stores := make(map[string]func() int, len(read))
	for name, f := range read {
		if f != nil {
			stores[name] = f
		}
	}
	return &collector{
		descs: []*prometheus.Desc{pending},
		collect: func(ch chan<- prometheus.Metric) {
			for name, f := range stores {
				ch <- gauge(pending, float64(f()), name)
			}
		},
	}
}
