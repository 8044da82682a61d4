package contract

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/ports"
)

// RateLimiter tests the ports.RateLimiter contract on limiters built by
// newLimiter, one fresh limiter per subtest. Windows are real and short
// where they must end; nothing asserts how long an operation took.
func RateLimiter(t *testing.T, newLimiter func(t *testing.T) ports.RateLimiter) {
	run := func(name string, f func(t *testing.T, l ports.RateLimiter)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newLimiter(t))
		})
	}
	const minute = time.Minute

	run("HitsCountUpWithinAWindow", func(t *testing.T, l ports.RateLimiter) {
		first := mustHit(t, l, "k", minute)
		if first.Count != 1 || first.ResetIn <= 0 || first.ResetIn > minute {
			t.Fatalf("first Hit = %+v, want count 1 and 0 < reset ≤ %v", first, minute)
		}
		prev := first
		for want := int64(2); want <= 5; want++ {
			w := mustHit(t, l, "k", minute)
			// The window opened at the first hit; later hits do not move it.
			if w.Count != want || w.ResetIn <= 0 || w.ResetIn > prev.ResetIn {
				t.Fatalf("Hit %d = %+v, want count %d and 0 < reset ≤ %v", want, w, want, prev.ResetIn)
			}
			prev = w
		}
	})

	run("PeekDoesNotCount", func(t *testing.T, l ports.RateLimiter) {
		if w := mustPeek(t, l, "k"); w != (ports.Window{}) {
			t.Fatalf("Peek of an unknown key = %+v, want the zero window", w)
		}
		for range 3 {
			mustHit(t, l, "k", minute)
		}
		for range 2 {
			if w := mustPeek(t, l, "k"); w.Count != 3 || w.ResetIn <= 0 || w.ResetIn > minute {
				t.Fatalf("Peek = %+v, want count 3 and 0 < reset ≤ %v", w, minute)
			}
		}
		if w := mustHit(t, l, "k", minute); w.Count != 4 {
			t.Fatalf("Hit after two Peeks = %+v, want count 4", w)
		}
	})

	run("UndoTakesBackOneHit", func(t *testing.T, l ports.RateLimiter) {
		for range 3 {
			mustHit(t, l, "k", minute)
		}
		mustUndo(t, l, "k")
		if w := mustPeek(t, l, "k"); w.Count != 2 || w.ResetIn <= 0 || w.ResetIn > minute {
			t.Fatalf("Peek after one Undo of three hits = %+v, want count 2 in the same window", w)
		}
		if w := mustHit(t, l, "k", minute); w.Count != 3 {
			t.Fatalf("Hit after Undo = %+v, want count 3", w)
		}
		// Never below zero: more Undos than hits leave zero, and the next
		// hit counts one.
		for range 5 {
			mustUndo(t, l, "k")
		}
		if w := mustPeek(t, l, "k"); w.Count != 0 {
			t.Fatalf("Peek after more Undos than hits = %+v, want count 0", w)
		}
		if w := mustHit(t, l, "k", minute); w.Count != 1 {
			t.Fatalf("Hit after the count reached zero = %+v, want count 1", w)
		}
		// Undo of a key that has no window opens none.
		mustUndo(t, l, "other")
		if w := mustPeek(t, l, "other"); w != (ports.Window{}) {
			t.Fatalf("Peek after Undo of an unknown key = %+v, want the zero window", w)
		}
	})

	run("ConcurrentHitsAndUndosBalance", func(t *testing.T, l ports.RateLimiter) {
		// The reservation pattern: each of many concurrent attempts hits,
		// then takes its hit back. Afterwards nothing is counted, and every
		// attempt saw a count no higher than the attempts in flight.
		const goroutines, each = 10, 10
		mustHit(t, l, "k", minute) // one that stays
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					w, err := l.Hit(t.Context(), "k", minute)
					if err != nil {
						t.Errorf("Hit: %v", err)
						return
					}
					if w.Count < 2 || w.Count > goroutines+1 {
						t.Errorf("Hit count %d with at most %d attempts in flight", w.Count, goroutines)
					}
					if err := l.Undo(t.Context(), "k"); err != nil {
						t.Errorf("Undo: %v", err)
					}
				}
			})
		}
		wg.Wait()
		if w := mustPeek(t, l, "k"); w.Count != 1 {
			t.Fatalf("Peek after balanced hits and undos = %+v, want count 1", w)
		}
	})

	run("KeysAreIndependent", func(t *testing.T, l ports.RateLimiter) {
		keys := []string{"login:ada@example.com|10.0.0.1", "login:ada@example.com|10.0.0.2", "ip:10.0.0.1"}
		for i, k := range keys {
			for range i + 1 {
				mustHit(t, l, k, minute)
			}
		}
		for i, k := range keys {
			if w := mustPeek(t, l, k); w.Count != int64(i+1) {
				t.Errorf("Peek(%q) = %+v, want count %d", k, w, i+1)
			}
		}
	})

	run("WindowEndsAndANewOneStarts", func(t *testing.T, l ports.RateLimiter) {
		const window = 300 * time.Millisecond
		mustHit(t, l, "k", window)
		mustHit(t, l, "k", window)
		deadline := time.Now().Add(20 * time.Second)
		for mustPeek(t, l, "k") != (ports.Window{}) {
			if time.Now().After(deadline) {
				t.Fatalf("window of %v still open after %v", window, 20*time.Second)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if w := mustHit(t, l, "k", window); w.Count != 1 {
			t.Fatalf("first Hit of the next window = %+v, want count 1", w)
		}
	})

	run("ConcurrentHitsAreEachCountedOnce", func(t *testing.T, l ports.RateLimiter) {
		const goroutines, each = 20, 10
		var mu sync.Mutex
		var counts []int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				<-start
				for range each {
					w, err := l.Hit(t.Context(), "k", minute)
					if err != nil {
						t.Errorf("Hit: %v", err)
						return
					}
					mu.Lock()
					counts = append(counts, w.Count)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		// Every hit saw a distinct count: no two read the same value and
		// wrote back the same increment.
		slices.Sort(counts)
		for i, c := range counts {
			if c != int64(i+1) {
				t.Fatalf("counts seen = %v, want 1…%d each once", counts, goroutines*each)
			}
		}
		if w := mustPeek(t, l, "k"); w.Count != goroutines*each {
			t.Fatalf("Peek = %+v, want count %d", w, goroutines*each)
		}
	})
}

func mustHit(t *testing.T, l ports.RateLimiter, key string, window time.Duration) ports.Window {
	t.Helper()
	w, err := l.Hit(t.Context(), key, window)
	if err != nil {
		t.Fatalf("Hit(%q): %v", key, err)
	}
	return w
}

func mustUndo(t *testing.T, l ports.RateLimiter, key string) {
	t.Helper()
	if err := l.Undo(t.Context(), key); err != nil {
		t.Fatalf("Undo(%q): %v", key, err)
	}
}

func mustPeek(t *testing.T, l ports.RateLimiter, key string) ports.Window {
	t.Helper()
	w, err := l.Peek(t.Context(), key)
	if err != nil {
		t.Fatalf("Peek(%q): %v", key, err)
	}
	return w
}
