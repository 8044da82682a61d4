package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestCacheContract(t *testing.T) {
	contract.Cache(t, func(*testing.T) ports.Cache {
		return memory.NewCache(1000, ports.ClockFunc(time.Now))
	})
}

// The limiter's suite runs here because the in-process limiter is the
// fallback of the Redis one and is tested against the same contract.
func TestRateLimiterContract(t *testing.T) {
	contract.RateLimiter(t, func(*testing.T) ports.RateLimiter {
		return memory.NewRateLimiter(ports.ClockFunc(time.Now))
	})
}

func TestCacheExpiresExactlyAtTTL(t *testing.T) {
	clock := memory.NewManualClock(time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC))
	c := memory.NewCache(10, clock)
	if err := c.Put(t.Context(), "k", 1, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if _, ok, _ := c.Get(t.Context(), "k"); !ok {
		t.Fatal("entry gone before its TTL")
	}
	clock.Advance(time.Nanosecond)
	if _, ok, _ := c.Get(t.Context(), "k"); ok {
		t.Fatal("entry still there at its TTL")
	}
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("expired entry still held: %+v", s)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := memory.NewCache(3, ports.ClockFunc(time.Now))
	put := func(k string) {
		t.Helper()
		if err := c.Put(t.Context(), k, 1, []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	has := func(k string) bool {
		_, ok, _ := c.Get(t.Context(), k)
		return ok
	}
	put("a")
	put("b")
	put("c")
	has("a") // a is now more recent than b
	put("d") // evicts b
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := has(k); got != want {
			t.Errorf("after evicting one entry, has(%q) = %v, want %v", k, got, want)
		}
	}
	s := c.Stats()
	if s.Entries != 3 || s.Evictions != 1 {
		t.Fatalf("Stats = %+v, want 3 entries and 1 eviction", s)
	}
}

func TestCacheStaysBounded(t *testing.T) {
	c := memory.NewCache(100, ports.ClockFunc(time.Now))
	for i := range 10_000 {
		if err := c.Put(t.Context(), fmt.Sprint(i), 1, []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.Stats(); s.Entries != 100 || s.Evictions != 9_900 {
		t.Fatalf("Stats = %+v, want 100 entries and 9900 evictions", s)
	}
}

func TestCacheCountsHitsAndMisses(t *testing.T) {
	c := memory.NewCache(10, ports.ClockFunc(time.Now))
	_, _, _ = c.Get(t.Context(), "k")
	_ = c.Put(t.Context(), "k", 1, []byte("v"), time.Hour)
	_, _, _ = c.Get(t.Context(), "k")
	_, _, _ = c.Get(t.Context(), "k")
	if s := c.Stats(); s.Hits != 2 || s.Misses != 1 {
		t.Fatalf("Stats = %+v, want 2 hits and 1 miss", s)
	}
}

// Clear drops everything, versions included, and the cache stays usable.
func TestCacheClearDropsEveryEntry(t *testing.T) {
	c := memory.NewCache(10, ports.ClockFunc(time.Now))
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Put(t.Context(), k, 5, []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	c.Clear()
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("after Clear, Stats = %+v, want no entries", s)
	}
	if _, ok, _ := c.Get(t.Context(), "a"); ok {
		t.Fatal("a survived Clear")
	}
	if err := c.Put(t.Context(), "a", 1, []byte("older"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := c.Get(t.Context(), "a"); !ok || string(v) != "older" {
		t.Fatalf("Get after Clear and Put = %q, %v; want the new value", v, ok)
	}
}
