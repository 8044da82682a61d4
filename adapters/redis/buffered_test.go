package redis

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func newBuffered(t *testing.T, c *Client, prefix string, o BufferedOptions) *BufferedLimiter {
	t.Helper()
	l := NewBufferedLimiter(c, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)), o)
	t.Cleanup(l.Close)
	return l
}

// The port's contract holds whichever way a key is counted: every hit in
// Redis, every hit in memory (flushed every few milliseconds, so flushes
// race the hits), and the switch between them halfway through a window.
func TestBufferedLimiterContract(t *testing.T) {
	c := openTest(t, "", Options{})
	for name, o := range map[string]BufferedOptions{
		"Exact":    {ExactFrom: 1},
		"InMemory": {ExactFrom: 1 << 40, FlushEvery: 3 * time.Millisecond},
		"Switches": {ExactFrom: 50, FlushEvery: 3 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			contract.RateLimiter(t, func(t *testing.T) ports.RateLimiter {
				return newBuffered(t, c, testPrefix(t, c), o)
			})
		})
	}
}

// Below ExactFrom a hit never waits for Redis: with Redis cut off, hits
// still count up at once and nothing falls back. The counts reach Redis
// when it answers again.
func TestBufferedLimiterCountsInMemoryBelowExactFrom(t *testing.T) {
	url := testURL(t)
	px := startProxy(t, redisAddr(t, url))
	c := openTest(t, px.url(), Options{Timeout: 200 * time.Millisecond, Cooldown: 50 * time.Millisecond})
	direct := openTest(t, url, Options{})
	prefix := testPrefix(t, direct)
	l := newBuffered(t, c, prefix, BufferedOptions{ExactFrom: 100, FlushEvery: time.Hour})
	other := NewRateLimiter(direct, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)))

	px.setCut(true)
	for want := int64(1); want <= 10; want++ {
		if w, err := l.Hit(t.Context(), "ip:10.0.0.1", time.Minute); err != nil || w.Count != want {
			t.Fatalf("Hit during the cut = %+v, %v; want count %d", w, err, want)
		}
	}
	if n := l.Fallbacks(); n != 0 {
		t.Fatalf("Fallbacks = %d during in-memory counting, want 0: a hit waited for Redis", n)
	}
	if err := l.Flush(t.Context()); err == nil {
		t.Fatal("Flush through a cut connection = nil error")
	}
	// The failed flush lost nothing.
	if w, _ := l.Hit(t.Context(), "ip:10.0.0.1", time.Minute); w.Count != 11 {
		t.Fatalf("Hit after a failed flush = %+v, want count 11", w)
	}

	px.setCut(false)
	waitUntil(t, "a flush to get through", func() bool { return l.Flush(t.Context()) == nil })
	if w, err := other.Peek(t.Context(), "ip:10.0.0.1"); err != nil || w.Count != 11 || w.ResetIn <= 0 || w.ResetIn > time.Minute {
		t.Fatalf("Redis' count after the flush = %+v, %v; want 11 in an open window", w, err)
	}
}

// Two instances add up: once flushed, each one's hits are in the other's
// count. Until then each counts what it knows, the slack the type
// documents.
func TestBufferedLimiterCountsAcrossInstances(t *testing.T) {
	a := openTest(t, "", Options{})
	b := openTest(t, "", Options{})
	prefix := testPrefix(t, a)
	o := BufferedOptions{ExactFrom: 1 << 40, FlushEvery: time.Hour} // flushed by hand only
	la, lb := newBuffered(t, a, prefix, o), newBuffered(t, b, prefix, o)
	for i := range int64(4) {
		hitWant(t, la, i+1)
	}
	for i := range int64(3) {
		hitWant(t, lb, i+1) // b has not heard of a's four
	}
	for _, l := range []*BufferedLimiter{la, lb} {
		if err := l.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for name, l := range map[string]*BufferedLimiter{"a": la, "b": lb} {
		if w, err := l.Peek(t.Context(), "k"); err != nil || w.Count != 7 {
			t.Fatalf("Peek on %s = %+v, %v; want both instances' 7", name, w, err)
		}
	}
	hitWant(t, lb, 8)
	hitWant(t, la, 8) // b's eighth is still in b's memory
	if err := lb.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w, _ := la.Peek(t.Context(), "k"); w.Count != 9 {
		t.Fatalf("Peek on a after b's flush = %+v, want 9", w)
	}
	if la.Fallbacks() != 0 || lb.Fallbacks() != 0 {
		t.Fatalf("fallbacks used with Redis up: %d, %d", la.Fallbacks(), lb.Fallbacks())
	}
}

// Past ExactFrom, instances count one after the other in Redis, as
// RateLimiter does.
func TestBufferedLimiterExactHitsCountAcrossInstances(t *testing.T) {
	a := openTest(t, "", Options{})
	b := openTest(t, "", Options{})
	prefix := testPrefix(t, a)
	o := BufferedOptions{ExactFrom: 1, FlushEvery: time.Hour}
	la, lb := newBuffered(t, a, prefix, o), newBuffered(t, b, prefix, o)
	for i := range int64(10) {
		l := la
		if i%2 == 1 {
			l = lb
		}
		hitWant(t, l, i+1)
	}
}

func hitWant(t *testing.T, l *BufferedLimiter, want int64) {
	t.Helper()
	w, err := l.Hit(t.Context(), "k", time.Minute)
	if err != nil || w.Count != want {
		t.Fatalf("Hit = %+v, %v; want count %d", w, err, want)
	}
}

// The hit that reaches ExactFrom takes what this instance still holds to
// Redis with it, so the count it answers is everyone's, and another
// instance's next hit sees it.
func TestBufferedLimiterGoingExactCarriesWhatItHeld(t *testing.T) {
	a := openTest(t, "", Options{})
	b := openTest(t, "", Options{})
	prefix := testPrefix(t, a)
	o := BufferedOptions{ExactFrom: 5, FlushEvery: time.Hour}
	la, lb := newBuffered(t, a, prefix, o), newBuffered(t, b, prefix, o)
	for i := range int64(4) {
		hitWant(t, lb, i+1)
	}
	if err := lb.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range int64(4) {
		hitWant(t, la, i+1) // a has not heard of b's four
	}
	// Fifth on a: exact, carrying a's four: 4 (b) + 4 + 1.
	hitWant(t, la, 9)
	// In b's own view the count is 4, so its next hit reaches ExactFrom
	// too: counted in Redis, it sees everyone's.
	hitWant(t, lb, 10)
}

// While Redis is cut off, a key past ExactFrom keeps counting in memory
// (per instance, as RateLimiter's fallback does) and says so once.
func TestBufferedLimiterExactHitsFallBackToMemory(t *testing.T) {
	url := testURL(t)
	px := startProxy(t, redisAddr(t, url))
	logs := &lockedBuffer{}
	c := openTest(t, px.url(), Options{Timeout: 200 * time.Millisecond, Cooldown: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	direct := openTest(t, url, Options{})
	prefix := testPrefix(t, direct)
	l := newBuffered(t, c, prefix, BufferedOptions{ExactFrom: 1, FlushEvery: time.Hour})
	const key = "ip:10.0.0.1"
	for want := int64(1); want <= 3; want++ {
		if w, err := l.Hit(t.Context(), key, time.Minute); err != nil || w.Count != want {
			t.Fatalf("Hit = %+v, %v; want %d", w, err, want)
		}
	}
	px.setCut(true)
	for want := int64(4); want <= 6; want++ {
		if w, err := l.Hit(t.Context(), key, time.Minute); err != nil || w.Count != want {
			t.Fatalf("Hit during the cut = %+v, %v; want %d (counted on in memory)", w, err, want)
		}
	}
	if l.Fallbacks() == 0 {
		t.Fatal("Fallbacks = 0 after exact hits through a cut connection")
	}
	if n := strings.Count(logs.String(), "rate limiter counting in process memory"); n != 1 {
		t.Fatalf("fallback warning logged %d times, want once:\n%s", n, logs.String())
	}
	px.setCut(false)
	// The three held in memory travel with the next hit that gets through.
	waitUntil(t, "an exact hit to reach Redis again", func() bool {
		before := l.Fallbacks()
		_, _ = l.Hit(t.Context(), key, time.Minute)
		return l.Fallbacks() == before
	})
	other := NewRateLimiter(direct, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	w, err := other.Peek(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := l.Peek(t.Context(), key)
	if w.Count < 7 || w.Count != local.Count {
		t.Fatalf("Redis' count = %d, the instance's %d; want them equal and at least 7 (none lost)", w.Count, local.Count)
	}
	if strings.Contains(logs.String(), "10.0.0.1") {
		t.Fatalf("a rate-limit key reached the log:\n%s", logs.String())
	}
}

// Keys are held in memory only up to MaxKeys; past it a new key is counted
// in Redis, exactly.
func TestBufferedLimiterBoundsItsKeys(t *testing.T) {
	c := openTest(t, "", Options{})
	prefix := testPrefix(t, c)
	l := newBuffered(t, c, prefix, BufferedOptions{ExactFrom: 1 << 40, FlushEvery: time.Hour, MaxKeys: 2})
	other := NewRateLimiter(c, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	for _, k := range []string{"a", "b", "c"} {
		if w, err := l.Hit(t.Context(), k, time.Minute); err != nil || w.Count != 1 {
			t.Fatalf("Hit(%q) = %+v, %v", k, w, err)
		}
	}
	if w, _ := other.Peek(t.Context(), "c"); w.Count != 1 {
		t.Fatalf("Redis' count of the third key = %+v, want 1: it was counted there at once", w)
	}
	if w, _ := other.Peek(t.Context(), "a"); w.Count != 0 {
		t.Fatalf("Redis' count of a buffered key before a flush = %+v, want 0", w)
	}
	l.mu.Lock()
	n := len(l.keys)
	l.mu.Unlock()
	if n != 2 {
		t.Fatalf("keys in memory = %d, want 2", n)
	}
}
