package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/adapters/readthrough"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestCacheContract(t *testing.T) {
	c := openTest(t, "", Options{})
	contract.Cache(t, func(t *testing.T) ports.Cache { return NewCache(c, testPrefix(t, c)) })
}

// The store suites through read-through decorators over Redis: caching in
// Redis changes nothing a caller can observe.
func TestUserStoreContractOverRedis(t *testing.T) {
	c := openTest(t, "", Options{})
	contract.UserStore(t, func(t *testing.T) ports.UserStore {
		return readthrough.NewUserStore(memory.NewUserStore(), NewCache(c, testPrefix(t, c)), readthrough.Options{TTL: time.Minute})
	})
}

func TestSessionStoreContractOverRedis(t *testing.T) {
	c := openTest(t, "", Options{})
	contract.SessionStore(t, func(t *testing.T) (ports.SessionStore, ports.UserStore) {
		cache := NewCache(c, testPrefix(t, c))
		o := readthrough.Options{TTL: time.Minute}
		return readthrough.NewSessionStore(memory.NewSessionStore(), cache, o), readthrough.NewUserStore(memory.NewUserStore(), cache, o)
	})
}

// A Put followed at once by a Get in the same process returns what was put,
// although Redis invalidates the process's own local copy asynchronously.
// Writer and reader are two Caches on one Client, as a process may have.
func TestCacheReadsItsOwnWrites(t *testing.T) {
	c := openTest(t, "", Options{})
	prefix := testPrefix(t, c)
	run := func(window time.Duration) (stale int) {
		writer, reader := NewCache(c, prefix), NewCache(c, prefix)
		writer.window, reader.window = window, window
		key := "own-" + strconv.FormatInt(int64(window), 10)
		for i := range int64(1000) {
			mustPut(t, writer, key, i, strconv.FormatInt(i, 10))
			// Two reads: the first may fill the local cache, the second is
			// the one a stale local copy would answer.
			for range 2 {
				got := mustGet(t, reader, key)
				if got != strconv.FormatInt(i, 10) {
					stale++
				}
			}
		}
		return stale
	}
	if stale := run(ownWriteWindow); stale != 0 {
		t.Fatalf("%d of 2000 reads right after this process's own Put returned an older value", stale)
	}
	// Without the window, for the record: how often the local copy lags.
	t.Logf("without the own-write window, %d of 2000 reads returned an older value", run(0))
}

// A change made through one client reaches another client that holds the
// old value in its local cache.
func TestCacheInvalidationReachesOtherClients(t *testing.T) {
	a := openTest(t, "", Options{})
	b := openTest(t, "", Options{})
	prefix := testPrefix(t, a)
	ca, cb := NewCache(a, prefix), NewCache(b, prefix)
	const rounds = 20
	var lags []time.Duration
	for i := range int64(rounds) {
		key := fmt.Sprintf("k%d", i)
		mustPut(t, ca, key, 1, "old")
		mustGet(t, cb, key) // fills b's local cache
		before := cb.Stats().LocalHits
		if got := mustGet(t, cb, key); got != "old" {
			t.Fatalf("b read %q, want old", got)
		}
		if cb.Stats().LocalHits != before+1 {
			t.Fatalf("b's second read did not come from its local cache: %+v", cb.Stats())
		}

		mustPut(t, ca, key, 2, "new")
		put := time.Now()
		for {
			got := mustGet(t, cb, key)
			if got == "new" {
				lags = append(lags, time.Since(put))
				break
			}
			if got != "old" {
				t.Fatalf("b read %q, want old or new", got)
			}
			if time.Since(put) > time.Second {
				t.Fatalf("b still reads the old value 1s after a's Put")
			}
		}
	}
	slices.Sort(lags)
	t.Logf("b saw a's change %v after a's Put returned (min), %v (median), %v (max), over %d rounds",
		lags[0], lags[len(lags)/2], lags[len(lags)-1], rounds)
}

// The same across two read-through stores on one database: a session
// revoked through one instance stops being live on the other.
func TestRevocationReachesOtherInstances(t *testing.T) {
	a := openTest(t, "", Options{})
	b := openTest(t, "", Options{})
	prefix := testPrefix(t, a)
	db := memory.NewSessionStore()
	o := readthrough.Options{TTL: time.Minute}
	sa := readthrough.NewSessionStore(db, NewCache(a, prefix), o)
	sb := readthrough.NewSessionStore(db, NewCache(b, prefix), o)
	now := time.Now()
	sess, tok := newSession(now)
	if err := sa.Create(t.Context(), sess, tok); err != nil {
		t.Fatal(err)
	}
	for range 2 { // b caches it live
		if got, err := sb.ByID(t.Context(), sess.ID); err != nil || got.RevokedAt != nil {
			t.Fatalf("b ByID = %+v, %v; want live", got, err)
		}
	}
	if _, err := sa.Revoke(t.Context(), sess.ID, now); err != nil {
		t.Fatal(err)
	}
	// a's own next read is never stale.
	if got, err := sa.ByID(t.Context(), sess.ID); err != nil || got.RevokedAt == nil {
		t.Fatalf("a ByID right after revoking = %+v, %v; want revoked", got, err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		got, err := sb.ByID(t.Context(), sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b still sees the session live 1s after a revoked it")
		}
	}
}

func TestCacheRejectsAnEntryWithoutVersion(t *testing.T) {
	c := openTest(t, "", Options{})
	prefix := testPrefix(t, c)
	cache := NewCache(c, prefix)
	if err := c.rdb.Do(t.Context(), c.rdb.B().Set().Key(prefix+"k").Value("short").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cache.Get(t.Context(), "k"); err == nil {
		t.Fatal("Get of a value without a version prefix = nil error")
	}
	// Put treats what it cannot read as absent, and replaces it.
	mustPut(t, cache, "k", 1, "good")
	if got := mustGet(t, cache, "k"); got != "good" {
		t.Fatalf("Get = %q, want good", got)
	}
}

func TestCacheCountsWhereAnswersCameFrom(t *testing.T) {
	c := openTest(t, "", Options{})
	cache := NewCache(c, testPrefix(t, c))
	mustPut(t, cache, "k", 1, "v")
	// Within the own-write window reads go to Redis.
	mustGet(t, cache, "k")
	cache.window = 0
	c.recent.mu.Lock()
	clear(c.recent.until)
	c.recent.mu.Unlock()
	mustGet(t, cache, "k") // fills the local cache from Redis
	mustGet(t, cache, "k") // local
	if _, ok, err := cache.Get(t.Context(), "absent"); ok || err != nil {
		t.Fatalf("Get absent = %v, %v", ok, err)
	}
	s := cache.Stats()
	if s.RedisHits != 2 || s.LocalHits != 1 || s.Misses != 1 || s.Errors != 0 {
		t.Fatalf("Stats = %+v, want 2 Redis hits, 1 local hit, 1 miss", s)
	}
}

func TestOpen(t *testing.T) {
	t.Run("BadURL", func(t *testing.T) {
		if _, err := Open(t.Context(), Options{URL: "http://127.0.0.1:6379"}); err == nil {
			t.Fatal("Open of an http URL = nil error")
		}
	})
	t.Run("UnreachableIsNotAnError", func(t *testing.T) {
		c, err := Open(t.Context(), Options{URL: "redis://" + freeAddr(t) + "/0", Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open with Redis down: %v", err)
		}
		defer c.Close()
		if err := c.Ping(t.Context()); err == nil {
			t.Fatal("Ping with Redis down = nil")
		}
	})
}

// Without a deadline of its own, a rueidis call blocks while Redis is down
// (NOTES.md). Every call here carries the client's.
func TestCallsCarryADeadline(t *testing.T) {
	c, err := Open(t.Context(), Options{URL: "redis://" + freeAddr(t) + "/0", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cache := NewCache(c, "x:")
	done := make(chan error, 2)
	go func() {
		_, _, err := cache.Get(context.Background(), "k")
		done <- err
		done <- cache.Put(context.Background(), "k", 1, []byte("v"), time.Minute)
	}()
	for range 2 {
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("call with Redis down = nil error")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("call with Redis down and no caller deadline did not return")
		}
	}
}

func TestEncodeVersionKeepsOrder(t *testing.T) {
	vs := []int64{-1 << 63, -1<<63 + 1, -2, -1, 0, 1, 1 << 53, 1<<53 + 1, 1<<63 - 2, 1<<63 - 1}
	for i := 1; i < len(vs); i++ {
		a, b := encodeVersion(vs[i-1]), encodeVersion(vs[i])
		if len(a) != versionDigits || len(b) != versionDigits || a >= b {
			t.Fatalf("encodeVersion(%d) = %s, encodeVersion(%d) = %s: not 20 digits in order", vs[i-1], a, vs[i], b)
		}
	}
}

func mustPut(t testing.TB, c *Cache, key string, version int64, value string) {
	t.Helper()
	if err := c.Put(context.Background(), key, version, []byte(value), time.Minute); err != nil {
		t.Fatalf("Put(%q, %d): %v", key, version, err)
	}
}

func mustGet(t testing.TB, c *Cache, key string) string {
	t.Helper()
	v, ok, err := c.Get(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("Get(%q) = %v, %v", key, ok, err)
	}
	return string(v)
}

func newSession(now time.Time) (domain.Session, domain.RefreshToken) {
	secret := domain.NewRefreshSecret()
	id := domain.SessionID(fmt.Sprintf("s-%d", now.UnixNano()))
	s := domain.Session{ID: id, UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	return s, domain.RefreshToken{Hash: secret.Hash(), SessionID: id, IssuedAt: now, ExpiresAt: s.ExpiresAt}
}
