package contract

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/ports"
)

// Cache tests the ports.Cache contract on caches built by newCache, one
// fresh cache per subtest (a Redis cache gets its own key prefix).
//
// Expiry is tested with real, short TTLs and polling, so the same subtests
// run on an in-process cache and on Redis; nothing asserts how long an
// operation took.
func Cache(t *testing.T, newCache func(t *testing.T) ports.Cache) {
	run := func(name string, f func(t *testing.T, c ports.Cache)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newCache(t))
		})
	}
	const long = time.Hour

	run("GetUnknownIsAMiss", func(t *testing.T, c ports.Cache) {
		assertCacheMiss(t, c, "nobody")
	})

	run("PutThenGetReturnsACopy", func(t *testing.T, c ports.Cache) {
		in := []byte("alpha")
		mustPut(t, c, "k", 1, in, long)
		in[0] = 'X' // the cache kept its own copy
		got := assertCached(t, c, "k", "alpha")
		got[0] = 'Y' // and hands out copies
		assertCached(t, c, "k", "alpha")
	})

	run("EmptyAndBinaryValues", func(t *testing.T, c ports.Cache) {
		// Adapters that prefix the stored value with its version must not
		// confuse an empty value with a miss, nor trip over separators.
		mustPut(t, c, "empty", 1, nil, long)
		assertCached(t, c, "empty", "")
		bin := string([]byte{0, ':', 0xff, '\n', '1', 0})
		mustPut(t, c, "binary", 7, []byte(bin), long)
		assertCached(t, c, "binary", bin)
	})

	run("OlderAndEqualVersionsChangeNothing", func(t *testing.T, c ports.Cache) {
		mustPut(t, c, "k", 5, []byte("five"), long)
		mustPut(t, c, "k", 4, []byte("four"), long)
		assertCached(t, c, "k", "five")
		mustPut(t, c, "k", 5, []byte("five again"), long)
		assertCached(t, c, "k", "five")
		mustPut(t, c, "k", 6, []byte("six"), long)
		assertCached(t, c, "k", "six")
	})

	run("VersionsCompareExactlyOverInt64", func(t *testing.T, c ports.Cache) {
		// Neighbours above 2^53 are equal as float64; a store that compares
		// versions as Lua numbers would refuse the second of each pair.
		steps := []struct {
			version int64
			value   string
			want    string
		}{
			{math.MinInt64, "min", "min"},
			{-1, "minus one", "minus one"},
			{0, "zero", "zero"},
			{1 << 53, "2^53", "2^53"},
			{1<<53 + 1, "2^53+1", "2^53+1"},
			{math.MaxInt64 - 2, "max-2", "max-2"},
			{math.MaxInt64 - 1, "max-1", "max-1"},
			{math.MaxInt64 - 2, "max-2 again", "max-1"},
		}
		for _, s := range steps {
			mustPut(t, c, "k", s.version, []byte(s.value), long)
			assertCached(t, c, "k", s.want)
		}
	})

	run("MaxVersionTombstoneWinsOverEverything", func(t *testing.T, c ports.Cache) {
		mustPut(t, c, "k", 3, []byte("live"), long)
		mustPut(t, c, "k", math.MaxInt64, []byte("deleted"), long)
		for _, v := range []int64{4, math.MaxInt64 - 1, math.MaxInt64} {
			mustPut(t, c, "k", v, []byte("resurrected"), long)
			assertCached(t, c, "k", "deleted")
		}
	})

	run("KeysAreIndependent", func(t *testing.T, c ports.Cache) {
		keys := []string{"a", "A", "a:", "a:b", "a b"}
		for i, k := range keys {
			mustPut(t, c, k, int64(10-i), []byte("value of "+k), long)
		}
		for _, k := range keys {
			assertCached(t, c, k, "value of "+k)
		}
		assertCacheMiss(t, c, "b")
	})

	run("EntriesExpire", func(t *testing.T, c ports.Cache) {
		const ttl = 250 * time.Millisecond
		put := time.Now()
		mustPut(t, c, "short", 5, []byte("soon gone"), ttl)
		mustPut(t, c, "renewed", 1, []byte("first"), ttl)
		mustPut(t, c, "renewed", 2, []byte("second"), long)
		if time.Since(put) < ttl/2 {
			// Only meaningful while the entry is surely young.
			assertCached(t, c, "short", "soon gone")
		}
		waitCacheMiss(t, c, "short", 20*time.Second)
		// The newer Put took the entry's TTL with it.
		if wait := 2*ttl - time.Since(put); wait > 0 {
			time.Sleep(wait)
		}
		assertCached(t, c, "renewed", "second")
		// An expired entry no longer holds its version.
		mustPut(t, c, "short", 1, []byte("back"), long)
		assertCached(t, c, "short", "back")
	})

	run("NonPositiveTTLIsAnErrorAndStoresNothing", func(t *testing.T, c ports.Cache) {
		for _, ttl := range []time.Duration{0, -time.Second} {
			if err := c.Put(t.Context(), "k", 1, []byte("forever"), ttl); err == nil {
				t.Errorf("Put with ttl %v = nil, want an error", ttl)
			}
		}
		assertCacheMiss(t, c, "k")
	})

	run("ConcurrentPutsKeepTheNewest", func(t *testing.T, c ports.Cache) {
		const versions = 50
		for round := range 3 {
			key := fmt.Sprintf("race-%d", round)
			order := rand.Perm(versions)
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, versions)
			for _, i := range order {
				wg.Go(func() {
					<-start
					v := int64(i + 1)
					if err := c.Put(t.Context(), key, v, fmt.Appendf(nil, "v%d", v), long); err != nil {
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("concurrent Put: %v", err)
			}
			assertCached(t, c, key, fmt.Sprintf("v%d", versions))
		}
	})
}

func mustPut(t *testing.T, c ports.Cache, key string, version int64, value []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Put(t.Context(), key, version, value, ttl); err != nil {
		t.Fatalf("Put(%q, %d): %v", key, version, err)
	}
}

// assertCached checks that key holds want and returns what Get returned.
func assertCached(t *testing.T, c ports.Cache, key, want string) []byte {
	t.Helper()
	got, ok, err := c.Get(t.Context(), key)
	switch {
	case err != nil:
		t.Fatalf("Get(%q): %v", key, err)
	case !ok:
		t.Fatalf("Get(%q) missed, want %q", key, want)
	case !bytes.Equal(got, []byte(want)) || got == nil:
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
	return got
}

func assertCacheMiss(t *testing.T, c ports.Cache, key string) {
	t.Helper()
	got, ok, err := c.Get(t.Context(), key)
	if err != nil || ok {
		t.Fatalf("Get(%q) = %q, %v, %v; want a miss", key, got, ok, err)
	}
}

// waitCacheMiss polls until key misses; bound only stops a broken cache
// from hanging the test.
func waitCacheMiss(t *testing.T, c ports.Cache, key string, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		_, ok, err := c.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%q) still hits %v after its TTL", key, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
