package redis

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestRateLimiterContract(t *testing.T) {
	c := openTest(t, "", Options{})
	contract.RateLimiter(t, func(t *testing.T) ports.RateLimiter {
		return NewRateLimiter(c, testPrefix(t, c), memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	})
}

// Two instances count against one limit.
func TestRateLimiterCountsAcrossInstances(t *testing.T) {
	a := openTest(t, "", Options{})
	b := openTest(t, "", Options{})
	prefix := testPrefix(t, a)
	la := NewRateLimiter(a, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	lb := NewRateLimiter(b, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	for i := range 10 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		w, err := l.Hit(t.Context(), "k", time.Minute)
		if err != nil || w.Count != int64(i+1) {
			t.Fatalf("Hit %d = %+v, %v; want count %d", i+1, w, err, i+1)
		}
	}
	if la.Fallbacks() != 0 || lb.Fallbacks() != 0 {
		t.Fatalf("fallbacks used with Redis up: %d, %d", la.Fallbacks(), lb.Fallbacks())
	}
}

// While Redis is cut off the limiter counts in memory and says so once;
// when Redis is back it counts there again, where the count survived.
func TestRateLimiterFallsBackAndRecovers(t *testing.T) {
	url := testURL(t)
	px := startProxy(t, redisAddr(t, url))
	logs := &lockedBuffer{}
	c := openTest(t, px.url(), Options{Timeout: 200 * time.Millisecond, Cooldown: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	prefix := testPrefix(t, openTest(t, url, Options{}))
	l := NewRateLimiter(c, prefix, memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	const key = "login:ada@example.com|10.0.0.1"
	hit := func(want int64) {
		t.Helper()
		w, err := l.Hit(t.Context(), key, time.Minute)
		if err != nil || w.Count != want {
			t.Fatalf("Hit = %+v, %v; want count %d", w, err, want)
		}
	}
	for i := range int64(3) {
		hit(i + 1)
	}

	px.setCut(true)
	for i := range int64(5) {
		hit(i + 1) // a fresh count in process memory
	}
	if w, err := l.Peek(t.Context(), key); err != nil || w.Count != 5 {
		t.Fatalf("Peek during the cut = %+v, %v; want the in-memory count 5", w, err)
	}
	if n := strings.Count(logs.String(), "rate limiter counting in process memory"); n != 1 {
		t.Fatalf("fallback warning logged %d times, want once:\n%s", n, logs.String())
	}
	if l.Fallbacks() != 6 {
		t.Fatalf("Fallbacks = %d, want 6", l.Fallbacks())
	}

	px.setCut(false)
	waitUntil(t, "the limiter to count in Redis again", func() bool {
		w, err := l.Peek(t.Context(), key)
		return err == nil && w.Count == 3
	})
	hit(4)
	if strings.Contains(logs.String(), "ada@example.com") {
		t.Fatalf("a rate-limit key (it holds an email) reached the log:\n%s", logs.String())
	}
}

func TestRateLimiterReturnsTheFallbacksError(t *testing.T) {
	c := openTest(t, "redis://"+freeAddr(t)+"/0", Options{Timeout: 100 * time.Millisecond})
	errFallback := errors.New("fallback broken")
	l := NewRateLimiter(c, "x:", failingLimiter{errFallback})
	if _, err := l.Hit(t.Context(), "k", time.Minute); !errors.Is(err, errFallback) {
		t.Fatalf("Hit = %v, want the fallback's error", err)
	}
	if _, err := l.Peek(t.Context(), "k"); !errors.Is(err, errFallback) {
		t.Fatalf("Peek = %v, want the fallback's error", err)
	}
	if err := l.Undo(t.Context(), "k"); !errors.Is(err, errFallback) {
		t.Fatalf("Undo = %v, want the fallback's error", err)
	}
}

func TestRateLimiterRejectsANonPositiveWindow(t *testing.T) {
	c := openTest(t, "", Options{})
	l := NewRateLimiter(c, testPrefix(t, c), memory.NewRateLimiter(ports.ClockFunc(time.Now)))
	for _, w := range []time.Duration{0, -time.Second} {
		if _, err := l.Hit(t.Context(), "k", w); err == nil {
			t.Errorf("Hit with window %v = nil error", w)
		}
	}
}

type failingLimiter struct{ err error }

func (f failingLimiter) Hit(context.Context, string, time.Duration) (ports.Window, error) {
	return ports.Window{}, f.err
}

func (f failingLimiter) Peek(context.Context, string) (ports.Window, error) {
	return ports.Window{}, f.err
}

func (f failingLimiter) Undo(context.Context, string) error { return f.err }
