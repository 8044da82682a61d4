package readthrough

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

// The store suites over the in-process cache show that caching changes
// nothing a caller can observe. adapters/redis runs them over Redis.
func TestUserStoreContract(t *testing.T) {
	contract.UserStore(t, func(t *testing.T) ports.UserStore {
		return NewUserStore(memory.NewUserStore(), newCache(), Options{TTL: time.Minute, Logger: testLogger(t)})
	})
}

func TestSessionStoreContract(t *testing.T) {
	contract.SessionStore(t, func(t *testing.T) (ports.SessionStore, ports.UserStore) {
		c := newCache()
		o := Options{TTL: time.Minute, Logger: testLogger(t)}
		return NewSessionStore(memory.NewSessionStore(), c, o), NewUserStore(memory.NewUserStore(), c, o)
	})
}

func TestReadsAreServedFromTheCache(t *testing.T) {
	inner := &userStub{UserStore: memory.NewUserStore()}
	s := NewUserStore(inner, newCache(), Options{})
	u := newUser("ada")
	mustNoErr(t, s.Create(t.Context(), u))
	for range 5 {
		if _, err := s.ByID(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := inner.byIDCalls.Load(); n != 1 {
		t.Fatalf("store read %d times for 5 ByIDs, want 1", n)
	}
}

// What every write path leaves in the cache, seen through a view whose
// store always fails, so that only the cache can answer.
func TestWritesGoThroughToTheCache(t *testing.T) {
	ctx := t.Context()
	cache := newCache()
	users := NewUserStore(memory.NewUserStore(), cache, Options{})
	sessions := NewSessionStore(memory.NewSessionStore(), cache, Options{})
	userView := NewUserStore(brokenUsers{}, cache, Options{})
	sessionView := NewSessionStore(brokenSessions{}, cache, Options{})
	now := time.Now()

	u := newUser("ada")
	mustNoErr(t, users.Create(ctx, u))
	_, err := users.Update(ctx, u.ID, func(u *domain.User) error { u.Name = "Ada L"; return nil })
	mustNoErr(t, err)
	if got, err := userView.ByID(ctx, u.ID); err != nil || got.Name != "Ada L" || got.Version != 2 {
		t.Fatalf("cached user after Update = %+v, %v; want the new name at version 2", got, err)
	}

	var ids []domain.SessionID
	var hashes []domain.TokenHash
	for range 3 {
		sess, tok := newSession(u.ID, now)
		mustNoErr(t, sessions.Create(ctx, sess, tok))
		if _, err := sessions.ByID(ctx, sess.ID); err != nil { // warm the cache
			t.Fatal(err)
		}
		ids, hashes = append(ids, sess.ID), append(hashes, tok.Hash)
	}

	_, err = sessions.Revoke(ctx, ids[0], now)
	mustNoErr(t, err)
	assertRevoked(t, sessionView, ids[0], true)

	next := domain.NewRefreshSecret().Hash()
	_, err = sessions.Exchange(ctx, hashes[1], func(s *domain.Session, tok *domain.RefreshToken) (*domain.RefreshToken, error) {
		s.LastUsedAt = now.Add(time.Minute)
		return &domain.RefreshToken{Hash: next, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
	})
	mustNoErr(t, err)
	if got, err := sessionView.ByID(ctx, ids[1]); err != nil || !got.LastUsedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("cached session after Exchange = %+v, %v; want the new LastUsedAt", got, err)
	}

	revoked, err := sessions.RevokeAllOf(ctx, u.ID, "", now)
	mustNoErr(t, err)
	if len(revoked) != 2 {
		t.Fatalf("RevokeAllOf revoked %v, want the two live sessions", revoked)
	}
	for _, id := range ids {
		assertRevoked(t, sessionView, id, true)
	}

	mustNoErr(t, users.Delete(ctx, u.ID))
	if _, err := userView.ByID(ctx, u.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("cached user after Delete: %v, want ErrNotFound from the tombstone", err)
	}
}

// A reader that loaded a row before a writer committed must not put the
// old row back over the writer's.
func TestSlowReaderCannotOverwriteANewerWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s *UserStore, id domain.UserID)
		check func(t *testing.T, got domain.User, err error)
	}{
		{"Update", func(t *testing.T, s *UserStore, id domain.UserID) {
			_, err := s.Update(t.Context(), id, func(u *domain.User) error { u.IsActive = false; return nil })
			mustNoErr(t, err)
		}, func(t *testing.T, got domain.User, err error) {
			if err != nil || got.IsActive || got.Version != 2 {
				t.Fatalf("after the slow fill, cache has %+v, %v; want the deactivated user", got, err)
			}
		}},
		{"Delete", func(t *testing.T, s *UserStore, id domain.UserID) {
			mustNoErr(t, s.Delete(t.Context(), id))
		}, func(t *testing.T, got domain.User, err error) {
			if !errors.Is(err, domain.ErrNotFound) {
				t.Fatalf("after the slow fill, cache has %+v, %v; want the tombstone", got, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := newCache()
			inner := &userStub{UserStore: memory.NewUserStore()}
			s := NewUserStore(inner, cache, Options{})
			u := newUser("ada")
			mustNoErr(t, s.Create(t.Context(), u))

			loaded, release := make(chan struct{}), make(chan struct{})
			var first atomic.Bool
			first.Store(true)
			inner.byID = func(ctx context.Context, id domain.UserID) (domain.User, error) {
				got, err := inner.UserStore.ByID(ctx, id)
				if first.CompareAndSwap(true, false) {
					close(loaded)
					<-release // the writer commits and caches meanwhile
				}
				return got, err
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = s.ByID(context.Background(), u.ID) // loads version 1, fills late
			}()
			<-loaded
			tc.write(t, s, u.ID)
			close(release)
			<-done

			got, err := NewUserStore(brokenUsers{}, cache, Options{}).ByID(t.Context(), u.ID)
			tc.check(t, got, err)
		})
	}
}

func TestCacheFailuresNeverReachTheCaller(t *testing.T) {
	ctx := t.Context()
	cache := &flakyCache{Cache: memory.NewCache(100, ports.ClockFunc(time.Now))}
	cache.failGet.Store(true)
	cache.failPut.Store(true)
	logs := &lockedBuffer{}
	o := Options{TTL: time.Minute, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	users := NewUserStore(memory.NewUserStore(), cache, o)
	sessions := NewSessionStore(memory.NewSessionStore(), cache, o)
	now := time.Now()

	u := newUser("ada")
	mustNoErr(t, users.Create(ctx, u))
	if got, err := users.ByID(ctx, u.ID); err != nil || got.ID != u.ID {
		t.Fatalf("ByID with a failing cache = %+v, %v", got, err)
	}
	if _, err := users.Update(ctx, u.ID, func(u *domain.User) error { u.Name = "Ada L"; return nil }); err != nil {
		t.Fatalf("Update with a failing cache: %v", err)
	}
	if got, _ := users.ByID(ctx, u.ID); got.Name != "Ada L" {
		t.Fatalf("ByID after Update = %q, want the new name", got.Name)
	}
	sess, tok := newSession(u.ID, now)
	mustNoErr(t, sessions.Create(ctx, sess, tok))
	if _, err := sessions.Revoke(ctx, sess.ID, now); err != nil {
		t.Fatalf("Revoke with a failing cache: %v", err)
	}
	assertRevoked(t, sessions, sess.ID, true)
	if _, err := sessions.RevokeAllOf(ctx, u.ID, "", now); err != nil {
		t.Fatalf("RevokeAllOf with a failing cache: %v", err)
	}
	if err := users.Delete(ctx, u.ID); err != nil {
		t.Fatalf("Delete with a failing cache: %v", err)
	}
	if _, err := users.ByID(ctx, u.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("ByID after Delete = %v, want ErrNotFound", err)
	}
	for _, want := range []string{"cache read failed", "cache write failed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// The store's errors still reach the caller unchanged.
	if _, err := users.ByID(ctx, "nobody"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("ByID unknown = %v, want ErrNotFound", err)
	}
}

// A revocation whose cache write failed must not leave the live session in
// the cache once the cache works again (Redis back with its data intact).
func TestFailedWriteIsRepairedWhenTheCacheReturns(t *testing.T) {
	ctx := t.Context()
	cache := &flakyCache{Cache: memory.NewCache(100, ports.ClockFunc(time.Now))}
	logs := &lockedBuffer{}
	o := Options{TTL: time.Minute, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	inner := memory.NewSessionStore()
	sessions := NewSessionStore(inner, cache, o)
	other := NewSessionStore(inner, cache, o) // another instance on the same database and cache
	now := time.Now()
	sess, tok := newSession("u1", now)
	mustNoErr(t, sessions.Create(ctx, sess, tok))
	assertRevoked(t, other, sess.ID, false) // cached live

	cache.failPut.Store(true)
	_, err := sessions.Revoke(ctx, sess.ID, now)
	mustNoErr(t, err)
	if sessions.PendingRepairs() != 1 {
		t.Fatalf("PendingRepairs = %d, want 1", sessions.PendingRepairs())
	}
	// The cache still says live; this instance knows better.
	assertRevoked(t, sessions, sess.ID, true)

	cache.failPut.Store(false)
	waitFor(t, "repair", func() bool { return sessions.PendingRepairs() == 0 })
	assertRevoked(t, other, sess.ID, true)
	assertRevoked(t, NewSessionStore(brokenSessions{}, cache, o), sess.ID, true)
	if !strings.Contains(logs.String(), "cache entries repaired") {
		t.Errorf("log lacks the repair:\n%s", logs.String())
	}
}

// A store that commits and then reports an error (a lost commit reply)
// leaves the cache to learn the outcome by reloading.
func TestAmbiguousStoreErrorsAreRepaired(t *testing.T) {
	errLost := errors.New("connection reset after commit")
	ctx := t.Context()
	cache := newCache()
	view := func() *SessionStore { return NewSessionStore(brokenSessions{}, cache, Options{}) }

	t.Run("Revoke", func(t *testing.T) {
		inner := &sessionStub{SessionStore: memory.NewSessionStore()}
		s := NewSessionStore(inner, cache, Options{})
		sess, tok := newSession("u1", time.Now())
		mustNoErr(t, s.Create(ctx, sess, tok))
		assertRevoked(t, s, sess.ID, false)
		inner.revoke = func(ctx context.Context, id domain.SessionID, now time.Time) (domain.Session, error) {
			_, _ = inner.SessionStore.Revoke(ctx, id, now)
			return domain.Session{}, errLost
		}
		if _, err := s.Revoke(ctx, sess.ID, time.Now()); !errors.Is(err, errLost) {
			t.Fatalf("Revoke = %v, want the store's error", err)
		}
		waitFor(t, "repair", func() bool { return s.PendingRepairs() == 0 })
		assertRevoked(t, view(), sess.ID, true)
	})

	t.Run("RevokeAllOf", func(t *testing.T) {
		inner := &sessionStub{SessionStore: memory.NewSessionStore()}
		s := NewSessionStore(inner, cache, Options{})
		now := time.Now()
		var ids []domain.SessionID
		for range 2 {
			sess, tok := newSession("u2", now)
			mustNoErr(t, s.Create(ctx, sess, tok))
			assertRevoked(t, s, sess.ID, false)
			ids = append(ids, sess.ID)
		}
		inner.revokeAllOf = func(ctx context.Context, u domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error) {
			_, _ = inner.SessionStore.RevokeAllOf(ctx, u, keep, now)
			return nil, errLost
		}
		if _, err := s.RevokeAllOf(ctx, "u2", "", now); !errors.Is(err, errLost) {
			t.Fatalf("RevokeAllOf = %v, want the store's error", err)
		}
		waitFor(t, "repair", func() bool { return s.PendingRepairs() == 0 })
		for _, id := range ids {
			assertRevoked(t, view(), id, true)
		}
	})

	t.Run("Exchange", func(t *testing.T) {
		inner := &sessionStub{SessionStore: memory.NewSessionStore()}
		s := NewSessionStore(inner, cache, Options{})
		sess, tok := newSession("u3", time.Now())
		mustNoErr(t, s.Create(ctx, sess, tok))
		assertRevoked(t, s, sess.ID, false)
		inner.exchange = func(ctx context.Context, h domain.TokenHash, fn ports.ExchangeFunc) (domain.Session, error) {
			_, _ = inner.SessionStore.Exchange(ctx, h, fn)
			return domain.Session{}, errLost
		}
		_, err := s.Exchange(ctx, tok.Hash, func(s *domain.Session, _ *domain.RefreshToken) (*domain.RefreshToken, error) {
			s.Revoke(time.Now()) // reuse detected
			return nil, nil
		})
		if !errors.Is(err, errLost) {
			t.Fatalf("Exchange = %v, want the store's error", err)
		}
		waitFor(t, "repair", func() bool { return s.PendingRepairs() == 0 })
		assertRevoked(t, view(), sess.ID, true)
	})

	t.Run("UpdateFnErrorNeedsNoRepair", func(t *testing.T) {
		s := NewUserStore(memory.NewUserStore(), cache, Options{})
		u := newUser("bob")
		mustNoErr(t, s.Create(ctx, u))
		refuse := errors.New("refused")
		if _, err := s.Update(ctx, u.ID, func(*domain.User) error { return refuse }); !errors.Is(err, refuse) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
		if n := s.PendingRepairs(); n != 0 {
			t.Fatalf("PendingRepairs after fn refused = %d, want 0", n)
		}
	})
}

func TestUnreadableEntryFallsBackToTheStore(t *testing.T) {
	cache := newCache()
	s := NewUserStore(memory.NewUserStore(), cache, Options{})
	u := newUser("ada")
	mustNoErr(t, s.Create(t.Context(), u))
	for _, junk := range []string{"{not json", `{"id":"someone-else","version":1}`} {
		mustNoErr(t, cache.Put(t.Context(), userKey(u.ID), math.MaxInt64-1, []byte(junk), time.Minute))
		if got, err := s.ByID(t.Context(), u.ID); err != nil || got.ID != u.ID || got.Name != u.Name {
			t.Fatalf("ByID over %q = %+v, %v; want the stored user", junk, got, err)
		}
	}
}

// Every field of the domain types survives the cache: a field added to
// domain.User or domain.Session and forgotten here fails this test.
func TestEveryFieldSurvivesEncoding(t *testing.T) {
	var u domain.User
	fillEveryField(t, reflect.ValueOf(&u).Elem())
	b, err := encodeUser(u)
	mustNoErr(t, err)
	got, found, err := decodeUser(b)
	if err != nil || !found || !reflect.DeepEqual(got, u) {
		t.Fatalf("user through the cache = %+v, %v, %v\nwant %+v", got, found, err, u)
	}

	var s domain.Session
	fillEveryField(t, reflect.ValueOf(&s).Elem())
	b, err = encodeSession(s)
	mustNoErr(t, err)
	gotS, found, err := decodeSession(b)
	if err != nil || !found || !reflect.DeepEqual(gotS, s) {
		t.Fatalf("session through the cache = %+v, %v, %v\nwant %+v", gotS, found, err, s)
	}
}

// fillEveryField sets each field to a distinct non-zero value.
func fillEveryField(t *testing.T, v reflect.Value) {
	t.Helper()
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		n++
		switch {
		case v.Type() == reflect.TypeFor[time.Time]():
			// UTC and no monotonic reading, so DeepEqual can compare.
			v.Set(reflect.ValueOf(time.Date(2026, 1, 1, 0, 0, n, n, time.UTC)))
		case v.Kind() == reflect.String:
			v.SetString("value-" + string(rune('a'+n)))
		case v.Kind() == reflect.Bool:
			v.SetBool(true)
		case v.Kind() == reflect.Int64:
			v.SetInt(int64(1000 + n))
		case v.Kind() == reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem())
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		default:
			t.Fatalf("fillEveryField: no rule for %v; add one", v.Type())
		}
	}
	fill(v)
}

// ---- helpers

func newCache() *memory.Cache { return memory.NewCache(10_000, ports.ClockFunc(time.Now)) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newUser(name string) domain.User {
	now := time.Now()
	id := newID()
	return domain.User{
		ID: domain.UserID(id), Name: name, Email: domain.Email(name + "." + id + "@example.com"), PasswordHash: "$2a$10$x",
		IsActive: true, Role: domain.RoleUser, CreatedAt: now, UpdatedAt: now,
	}
}

func newSession(uid domain.UserID, now time.Time) (domain.Session, domain.RefreshToken) {
	secret := domain.NewRefreshSecret()
	id := domain.SessionID(newID())
	s := domain.Session{ID: id, UserID: uid, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	return s, domain.RefreshToken{Hash: secret.Hash(), SessionID: id, IssuedAt: now, ExpiresAt: s.ExpiresAt}
}

func assertRevoked(t *testing.T, s ports.SessionStore, id domain.SessionID, want bool) {
	t.Helper()
	got, err := s.ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ByID(%s): %v", id, err)
	}
	if (got.RevokedAt != nil) != want {
		t.Fatalf("session %s revoked = %v, want %v", id, got.RevokedAt != nil, want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var errBroken = errors.New("store unreachable")

// brokenUsers and brokenSessions fail every call, so a decorator over them
// answers only from its cache.
type brokenUsers struct{ ports.UserStore }

func (brokenUsers) ByID(context.Context, domain.UserID) (domain.User, error) {
	return domain.User{}, errBroken
}

type brokenSessions struct{ ports.SessionStore }

func (brokenSessions) ByID(context.Context, domain.SessionID) (domain.Session, error) {
	return domain.Session{}, errBroken
}

// userStub and sessionStub pass to a real store unless a func is set.
type userStub struct {
	ports.UserStore
	byID      func(context.Context, domain.UserID) (domain.User, error)
	byIDCalls atomic.Int64
}

func (s *userStub) ByID(ctx context.Context, id domain.UserID) (domain.User, error) {
	s.byIDCalls.Add(1)
	if s.byID != nil {
		return s.byID(ctx, id)
	}
	return s.UserStore.ByID(ctx, id)
}

type sessionStub struct {
	ports.SessionStore
	revoke      func(context.Context, domain.SessionID, time.Time) (domain.Session, error)
	revokeAllOf func(context.Context, domain.UserID, domain.SessionID, time.Time) ([]domain.SessionID, error)
	exchange    func(context.Context, domain.TokenHash, ports.ExchangeFunc) (domain.Session, error)
}

func (s *sessionStub) Revoke(ctx context.Context, id domain.SessionID, now time.Time) (domain.Session, error) {
	if s.revoke != nil {
		return s.revoke(ctx, id, now)
	}
	return s.SessionStore.Revoke(ctx, id, now)
}

func (s *sessionStub) RevokeAllOf(ctx context.Context, u domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error) {
	if s.revokeAllOf != nil {
		return s.revokeAllOf(ctx, u, keep, now)
	}
	return s.SessionStore.RevokeAllOf(ctx, u, keep, now)
}

func (s *sessionStub) Exchange(ctx context.Context, h domain.TokenHash, fn ports.ExchangeFunc) (domain.Session, error) {
	if s.exchange != nil {
		return s.exchange(ctx, h, fn)
	}
	return s.SessionStore.Exchange(ctx, h, fn)
}

// flakyCache fails on demand.
type flakyCache struct {
	ports.Cache
	failGet, failPut atomic.Bool
}

var errCacheDown = errors.New("cache down")

func (c *flakyCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if c.failGet.Load() {
		return nil, false, errCacheDown
	}
	return c.Cache.Get(ctx, key)
}

func (c *flakyCache) Put(ctx context.Context, key string, version int64, value []byte, ttl time.Duration) error {
	if c.failPut.Load() {
		return errCacheDown
	}
	return c.Cache.Put(ctx, key, version, value, ttl)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A change another process made in the store, which this cache never saw
// (its writer could not reach the cache, or caches are per instance), is
// served from the store from the moment Changed is called, and then from
// the cache again once the stored row is back in it.
func TestChangedReadsPastAStaleEntryAndRefillsIt(t *testing.T) {
	ctx := t.Context()
	cache := newCache()
	innerUsers, innerSessions := memory.NewUserStore(), memory.NewSessionStore()
	o := Options{TTL: time.Minute, Logger: testLogger(t)}
	users, sessions := NewUserStore(innerUsers, cache, o), NewSessionStore(innerSessions, cache, o)
	u := newUser("ada")
	mustNoErr(t, users.Create(ctx, u))
	sess, tok := newSession(u.ID, time.Now())
	mustNoErr(t, sessions.Create(ctx, sess, tok))
	// Warm: both rows are now cached.
	assertRevoked(t, sessions, sess.ID, false)
	if _, err := users.ByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}

	// Another instance writes to the store directly.
	_, err := innerSessions.Revoke(ctx, sess.ID, time.Now())
	mustNoErr(t, err)
	_, err = innerUsers.Update(ctx, u.ID, func(u *domain.User) error { u.IsActive = false; return nil })
	mustNoErr(t, err)
	assertRevoked(t, sessions, sess.ID, false) // stale: nothing told this cache
	if got, _ := users.ByID(ctx, u.ID); !got.IsActive {
		t.Fatal("the cache saw a write that bypassed it; the test shows nothing")
	}

	sessions.Changed(sess.ID)
	users.Changed(u.ID)
	assertRevoked(t, sessions, sess.ID, true) // at once, before any repair ran
	if got, _ := users.ByID(ctx, u.ID); got.IsActive {
		t.Fatal("user read after Changed is still the cached active one")
	}
	waitFor(t, "the repairs", func() bool { return sessions.PendingRepairs() == 0 && users.PendingRepairs() == 0 })
	// The cache itself now holds the stored rows, for every reader of it.
	b, ok, err := cache.Get(ctx, sessionKey(sess.ID))
	if err != nil || !ok {
		t.Fatalf("cache Get after the repair: %v, %v", ok, err)
	}
	if s, _, err := decodeSession(b); err != nil || s.RevokedAt == nil {
		t.Fatalf("cached session after the repair = %+v, %v; want the revoked row", s, err)
	}

	// A deleted user comes back as not found.
	mustNoErr(t, innerUsers.Delete(ctx, u.ID))
	users.Changed(u.ID)
	if _, err := users.ByID(ctx, u.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("ByID after Changed of a deleted user = %v, want ErrNotFound", err)
	}
}

// A refresh on one instance slides the session's expiry without telling
// the others (rotations are silent). Once the expiry another instance
// cached has passed, that instance reads the session again rather than
// refusing a session the store says is live.
func TestCachedSessionPastItsExpiryIsReadAgain(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := memory.NewManualClock(now)
	inner := memory.NewSessionStore()
	here := NewSessionStore(inner, newCache(), Options{Clock: clock})
	there := NewSessionStore(inner, newCache(), Options{Clock: clock})
	sess, tok := newSession("u1", now)
	mustNoErr(t, here.Create(t.Context(), sess, tok))
	if _, err := here.ByID(t.Context(), sess.ID); err != nil { // cached here
		t.Fatal(err)
	}
	slid := sess.ExpiresAt.Add(time.Hour)
	if _, err := there.Exchange(t.Context(), tok.Hash, func(s *domain.Session, _ *domain.RefreshToken) (*domain.RefreshToken, error) {
		s.ExpiresAt, s.LastUsedAt = slid, now
		next := domain.NewRefreshSecret()
		return &domain.RefreshToken{Hash: next.Hash(), IssuedAt: now, ExpiresAt: slid}, nil
	}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // past the expiry cached here
	got, err := here.ByID(t.Context(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(slid) || !got.Live(clock.Now()) {
		t.Fatalf("session read here expires at %v (live %v), want the slid %v", got.ExpiresAt, got.Live(clock.Now()), slid)
	}
	clock.Advance(2 * time.Hour) // past the slid expiry too: expired is expired
	if got, err := here.ByID(t.Context(), sess.ID); err != nil || got.Live(clock.Now()) {
		t.Fatalf("ByID after the slid expiry = %+v, %v; want the expired session", got, err)
	}
}
