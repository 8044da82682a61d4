package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authd/authd/adapters/hashpool"
	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ app.CredentialCache = (*memory.CredentialCache)(nil)

const credentialTTL = 10 * time.Minute

// newCachedFixture is newFixture with the credential cache on. wrap, when
// not nil, puts something (the hash pool) between the service and the
// counting fake hasher.
func newCachedFixture(t *testing.T, p app.Policy, wrap func(ports.PasswordHasher) ports.PasswordHasher) *fixture {
	t.Helper()
	clock := memory.NewManualClock(time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC))
	f := &fixture{
		users: memory.NewUserStore(), sessions: memory.NewSessionStore(),
		hasher: &fakeHasher{prefix: "v2:"}, clock: clock,
	}
	var hasher ports.PasswordHasher = f.hasher
	if wrap != nil {
		hasher = wrap(hasher)
	}
	svc, err := app.New(context.Background(), app.Deps{
		Users: f.users, Sessions: f.sessions, Hasher: hasher,
		Tokens:      &fakeTokens{issued: map[string]domain.AccessClaims{}, clock: clock},
		Limiter:     memory.NewRateLimiter(clock),
		Credentials: memory.NewCredentialCache(credentialTTL, 100, clock),
		Clock:       clock,
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	f.svc = svc
	return f
}

// loginCompares logs in and returns how many comparisons it cost.
func (f *fixture) loginCompares(t *testing.T, email, pw string) (int64, error) {
	t.Helper()
	before := f.hasher.compares.Load()
	_, err := f.login(t, email, pw)
	return f.hasher.compares.Load() - before, err
}

func TestCredentialCacheRepeatLoginSkipsTheHasher(t *testing.T) {
	f := newCachedFixture(t, policy, nil)
	f.register(t, "ada@example.com")
	if n, err := f.loginCompares(t, "ada@example.com", "strongpass123"); err != nil || n != 1 {
		t.Fatalf("first login: %d compares, err %v; want 1, nil", n, err)
	}
	for range 3 {
		tok, err := f.login(t, "ada@example.com", "strongpass123")
		if err != nil || tok.Access == "" {
			t.Fatalf("repeat login: %+v, %v", tok, err)
		}
	}
	if n := f.hasher.compares.Load(); n != 1 {
		t.Errorf("%d compares over 4 logins with the same password, want 1", n)
	}
}

func TestCredentialCacheNeverAnswersForAWrongPassword(t *testing.T) {
	f := newCachedFixture(t, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour}, nil)
	f.register(t, "ada@example.com")
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n, err := f.loginCompares(t, "ada@example.com", "wrongpass123")
		if !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("wrong password: err = %v", err)
		}
		if n != 1 {
			t.Errorf("wrong password: %d compares, want 1 every time", n)
		}
	}
	// Wrong guesses do not evict the right password either.
	if n, err := f.loginCompares(t, "ada@example.com", "strongpass123"); err != nil || n != 0 {
		t.Errorf("right password after wrong ones: %d compares, err %v; want 0, nil", n, err)
	}
}

func TestCredentialCacheFollowsTheStoredHash(t *testing.T) {
	f := newCachedFixture(t, policy, nil)
	u := f.register(t, "ada@example.com")
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatal(err)
	}
	// A password change made through another instance: only the store
	// knows about it, this process's cache was never told.
	if _, err := f.users.Update(context.Background(), u.ID, func(u *domain.User) error {
		u.PasswordHash = "v2:newpass12345"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n, err := f.loginCompares(t, "ada@example.com", "strongpass123")
	if !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("old password after the change: err = %v, want ErrInvalidCredentials", err)
	}
	if n != 1 {
		t.Errorf("old password after the change: %d compares, want 1 (no cache answer)", n)
	}
	if n, err := f.loginCompares(t, "ada@example.com", "newpass12345"); err != nil || n != 1 {
		t.Errorf("new password: %d compares, err %v; want 1, nil", n, err)
	}
}

func TestCredentialCacheEntriesExpire(t *testing.T) {
	f := newCachedFixture(t, policy, nil)
	f.register(t, "ada@example.com")
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(credentialTTL)
	if n, err := f.loginCompares(t, "ada@example.com", "strongpass123"); err != nil || n != 1 {
		t.Errorf("login after the ttl: %d compares, err %v; want 1, nil", n, err)
	}
}

func TestCredentialCacheDoesNotBypassAccountChecks(t *testing.T) {
	f := newCachedFixture(t, policy, nil)
	u := f.register(t, "ada@example.com")
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatal(err)
	}
	// The failed-login limit still holds for a cached password…
	for range policy.LoginFailuresPerMinute {
		if _, err := f.login(t, "ada@example.com", "wrongpass123"); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); !errors.Is(err, domain.ErrRateLimited) {
		t.Errorf("cached password over the failure limit: err = %v, want ErrRateLimited", err)
	}
	f.clock.Advance(time.Minute)
	// …and so does deactivation, read from the store on every login.
	if _, err := f.users.Update(context.Background(), u.ID, func(u *domain.User) error { u.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); !errors.Is(err, domain.ErrAccountInactive) {
		t.Errorf("cached password on a deactivated account: err = %v, want ErrAccountInactive", err)
	}
}

// Through the hash pool, an unknown email, a malformed one and a wrong
// password each cost exactly one comparison and one pass through the pool,
// credential cache on or not: no count, hence no timing, tells them apart.
func TestUnknownEmailCostsTheSameAsWrongPasswordThroughThePool(t *testing.T) {
	var pool *hashpool.Pool
	f := newCachedFixture(t, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour}, func(inner ports.PasswordHasher) ports.PasswordHasher {
		pool = hashpool.New(inner, hashpool.Options{Workers: 1, Clock: memory.NewManualClock(time.Unix(0, 0))})
		return pool
	})
	f.register(t, "ada@example.com")
	// Warm the cache for ada's right password: it must not change the cost
	// of her wrong one.
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatal(err)
	}
	type cost struct{ compares, hashes, admitted int64 }
	measure := func(email string) cost {
		t.Helper()
		compares, hashes, waits := f.hasher.compares.Load(), f.hasher.hashes.Load(), pool.Stats().Waits
		_, err := f.login(t, email, "wrongpass123")
		if !errors.Is(err, domain.ErrInvalidCredentials) || err.Error() != domain.ErrInvalidCredentials.Error() {
			t.Errorf("%s: err = %v, want exactly ErrInvalidCredentials", email, err)
		}
		return cost{f.hasher.compares.Load() - compares, f.hasher.hashes.Load() - hashes, int64(pool.Stats().Waits - waits)}
	}
	want := measure("ada@example.com")
	if want != (cost{compares: 1, admitted: 1}) {
		t.Fatalf("wrong password cost %+v, want one compare through the pool", want)
	}
	for _, email := range []string{"nobody@example.com", "nobody"} {
		if got := measure(email); got != want {
			t.Errorf("%s cost %+v, wrong password cost %+v", email, got, want)
		}
	}
	if s := pool.Stats(); s.InFlight != 0 || s.Queued != 0 || s.Rejected != 0 {
		t.Errorf("pool stats %+v", s)
	}
}
