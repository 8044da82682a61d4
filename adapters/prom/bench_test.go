package prom

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkObserveRequest is what the request path pays per request.
// BenchmarkWithLabelValues does the same work through the vectors' own
// label lookups, without the series cache, for comparison.
func BenchmarkObserveRequest(b *testing.B) {
	m := New(Sources{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("GET", "/admin/users/:id", 200, 420*time.Microsecond)
		}
	})
}

func BenchmarkWithLabelValues(b *testing.B) {
	m := New(Sources{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status := strconv.Itoa(200)
			m.requests.WithLabelValues("GET", "/admin/users/:id", status).Inc()
			m.latency.WithLabelValues("GET", "/admin/users/:id", status).Observe(0.00042)
		}
	})
}
