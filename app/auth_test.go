package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// fakeHasher "hashes" by prefixing, and counts calls, so tests can check
// which paths spend hashing work without paying for bcrypt.
type fakeHasher struct {
	hashes, compares atomic.Int64
	prefix           string // hashes not starting with it need a rehash
}

func (h *fakeHasher) Hash(_ context.Context, pw domain.Password) (domain.PasswordHash, error) {
	h.hashes.Add(1)
	return domain.PasswordHash(h.prefix + pw.Reveal()), nil
}

func (h *fakeHasher) Compare(_ context.Context, hash domain.PasswordHash, pw domain.Password) error {
	h.compares.Add(1)
	if strings.HasSuffix(string(hash), ":"+pw.Reveal()) {
		return nil
	}
	return domain.ErrInvalidCredentials
}

func (h *fakeHasher) NeedsRehash(hash domain.PasswordHash) bool {
	return !strings.HasPrefix(string(hash), h.prefix)
}

// fakeTokens keeps issued claims in a map; the real signer has its own
// tests in adapters/jwt.
type fakeTokens struct {
	mu     sync.Mutex
	issued map[string]domain.AccessClaims
	clock  ports.Clock
}

func (f *fakeTokens) Issue(_ context.Context, c domain.AccessClaims) (domain.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := "tok-" + c.TokenID
	f.issued[tok] = c
	return domain.AccessToken(tok), nil
}

func (f *fakeTokens) Verify(_ context.Context, token string) (domain.AccessClaims, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.issued[token]
	if !ok || !f.clock.Now().Before(c.ExpiresAt) {
		return domain.AccessClaims{}, domain.ErrUnauthenticated
	}
	return c, nil
}

type fixture struct {
	svc      *app.Service
	users    *memory.UserStore
	sessions *memory.SessionStore
	hasher   *fakeHasher
	clock    *memory.ManualClock
}

var policy = app.Policy{
	AccessTTL: 15 * time.Minute, RefreshTTL: 7 * 24 * time.Hour,
	RefreshReuseInterval: 10 * time.Second, LoginFailuresPerMinute: 3,
}

func newFixture(t *testing.T, p app.Policy) *fixture {
	t.Helper()
	clock := memory.NewManualClock(time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC))
	f := &fixture{
		users: memory.NewUserStore(), sessions: memory.NewSessionStore(),
		hasher: &fakeHasher{prefix: "v2:"}, clock: clock,
	}
	svc, err := app.New(context.Background(), app.Deps{
		Users: f.users, Sessions: f.sessions, Hasher: f.hasher,
		Tokens:  &fakeTokens{issued: map[string]domain.AccessClaims{}, clock: clock},
		Limiter: memory.NewRateLimiter(clock), Clock: clock,
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	f.svc = svc
	return f
}

func (f *fixture) register(t *testing.T, email string) domain.User {
	t.Helper()
	u, err := f.svc.Register(context.Background(), app.RegisterInput{Name: "Ada Lovelace", Email: email, Password: "strongpass123"})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return u
}

func (f *fixture) login(t *testing.T, email, pw string) (app.Tokens, error) {
	t.Helper()
	return f.svc.Login(context.Background(), app.LoginInput{Email: email, Password: pw, Client: app.Client{IP: "192.0.2.1", UserAgent: "test"}})
}

func TestRegisterReportsEveryBadField(t *testing.T) {
	f := newFixture(t, policy)
	_, err := f.svc.Register(context.Background(), app.RegisterInput{Name: " A ", Email: "not-an-email", Password: " short"})
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want ValidationError", err)
	}
	got := map[string]bool{}
	for _, p := range ve.Problems {
		got[p.Field] = true
	}
	for _, field := range []string{"name", "email", "password"} {
		if !got[field] {
			t.Errorf("no problem reported for %s: %v", field, ve.Problems)
		}
	}
	if f.hasher.hashes.Load() != 1 { // only the dummy hash from New
		t.Errorf("invalid input reached the hasher")
	}
}

func TestRegisterNormalisesAndRejectsDuplicateEmail(t *testing.T) {
	f := newFixture(t, policy)
	u := f.register(t, "  Ada@Example.COM ")
	if u.Email != "ada@example.com" || u.Role != domain.RoleUser || !u.IsActive {
		t.Fatalf("registered %+v", u)
	}
	_, err := f.svc.Register(context.Background(), app.RegisterInput{Name: "Ada", Email: "ADA@example.com", Password: "strongpass123"})
	if !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("second registration: %v, want ErrEmailTaken", err)
	}
}

func TestLoginUnknownEmailCostsTheSameAsWrongPassword(t *testing.T) {
	f := newFixture(t, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour})
	f.register(t, "ada@example.com")
	cases := []struct{ name, email, pw string }{
		{"wrong password", "ada@example.com", "wrongpass123"},
		{"unknown email", "nobody@example.com", "wrongpass123"},
		{"malformed email", "nobody", "wrongpass123"},
	}
	for _, c := range cases {
		before := f.hasher.compares.Load()
		hashes := f.hasher.hashes.Load()
		_, err := f.login(t, c.email, c.pw)
		if !errors.Is(err, domain.ErrInvalidCredentials) || err.Error() != domain.ErrInvalidCredentials.Error() {
			t.Errorf("%s: err = %v, want exactly ErrInvalidCredentials", c.name, err)
		}
		if n := f.hasher.compares.Load() - before; n != 1 {
			t.Errorf("%s: %d compares, want 1", c.name, n)
		}
		if f.hasher.hashes.Load() != hashes {
			t.Errorf("%s: hashed during login", c.name)
		}
	}
}

func TestLoginLimitBlocksEvenTheRightPasswordUntilTheWindowPasses(t *testing.T) {
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	for range policy.LoginFailuresPerMinute {
		if _, err := f.login(t, "ada@example.com", "wrongpass123"); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	compares := f.hasher.compares.Load()
	_, err := f.login(t, "ada@example.com", "strongpass123")
	var retry *domain.RetryError
	if !errors.As(err, &retry) || !errors.Is(err, domain.ErrRateLimited) || retry.RetryAfter <= 0 {
		t.Fatalf("err = %v, want RetryError(ErrRateLimited) with a wait", err)
	}
	if f.hasher.compares.Load() != compares {
		t.Error("a blocked login still spent hashing work")
	}
	// Another address is not blocked by this one's failures.
	if _, err := f.svc.Login(context.Background(), app.LoginInput{Email: "ada@example.com", Password: "strongpass123", Client: app.Client{IP: "192.0.2.2"}}); err != nil {
		t.Fatalf("login from another address: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestLoginInactiveAccountOnlyAfterTheRightPassword(t *testing.T) {
	f := newFixture(t, policy)
	u := f.register(t, "ada@example.com")
	if _, err := f.users.Update(context.Background(), u.ID, func(u *domain.User) error { u.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(t, "ada@example.com", "wrongpass123"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("wrong password on inactive account: %v", err)
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); !errors.Is(err, domain.ErrAccountInactive) {
		t.Errorf("right password on inactive account: %v", err)
	}
}

func TestLoginRehashesWeakHashAfterAnswering(t *testing.T) {
	f := newFixture(t, policy)
	u := f.register(t, "ada@example.com")
	if _, err := f.users.Update(context.Background(), u.ID, func(u *domain.User) error {
		u.PasswordHash = "v1:strongpass123"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatal(err)
	}
	f.svc.Close() // waits for the background rehash
	got, _ := f.users.ByID(context.Background(), u.ID)
	if got.PasswordHash != "v2:strongpass123" {
		t.Fatalf("hash after login = %q, want upgraded", got.PasswordHash)
	}
}

func TestAuthenticateFollowsTheStoreNotTheToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	u := f.register(t, "ada@example.com")
	tok, err := f.login(t, "ada@example.com", "strongpass123")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, string(tok.Access))
	if err != nil || p.User.ID != u.ID || p.Session.ID != tok.SessionID {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	if _, err := f.users.Update(ctx, u.ID, func(u *domain.User) error { u.Role = domain.RoleAdmin; return nil }); err != nil {
		t.Fatal(err)
	}
	if p, _ = f.svc.Authenticate(ctx, string(tok.Access)); p.User.Role != domain.RoleAdmin {
		t.Errorf("role after promotion = %s, want admin at once", p.User.Role)
	}
	if _, err := f.users.Update(ctx, u.ID, func(u *domain.User) error { u.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, string(tok.Access)); !errors.Is(err, domain.ErrAccountInactive) {
		t.Errorf("deactivated: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "garbage"); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("garbage token: %v", err)
	}
}

func TestLogoutStopsBothTokensAtOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	tok, _ := f.login(t, "ada@example.com", "strongpass123")
	p, err := f.svc.Authenticate(ctx, string(tok.Access))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, string(tok.Access)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("access after logout: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, string(tok.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("refresh after logout: %v", err)
	}
}

func TestRefreshRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	first, _ := f.login(t, "ada@example.com", "strongpass123")

	second, err := f.svc.Refresh(ctx, string(first.Refresh))
	if err != nil || second.Refresh == first.Refresh || second.SessionID != first.SessionID {
		t.Fatalf("rotate: %+v, %v", second, err)
	}
	// A second tab presenting the same token within the interval is served.
	f.clock.Advance(policy.RefreshReuseInterval)
	tab, err := f.svc.Refresh(ctx, string(first.Refresh))
	if err != nil {
		t.Fatalf("reuse within the interval: %v", err)
	}
	// Past the interval, reuse revokes the whole session.
	f.clock.Advance(time.Second)
	if _, err := f.svc.Refresh(ctx, string(first.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("reuse past the interval: %v", err)
	}
	for name, tok := range map[string]app.Tokens{"rotated": second, "tab": tab} {
		if _, err := f.svc.Refresh(ctx, string(tok.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Errorf("%s refresh token after reuse: %v", name, err)
		}
		if _, err := f.svc.Authenticate(ctx, string(tok.Access)); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Errorf("%s access token after reuse: %v", name, err)
		}
	}
}

func TestRefreshRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour})
	f.register(t, "ada@example.com")
	tok, _ := f.login(t, "ada@example.com", "strongpass123")
	for _, bad := range []string{"", "unknown", string(tok.Refresh) + "x"} {
		if _, err := f.svc.Refresh(ctx, bad); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Errorf("Refresh(%q) = %v", bad, err)
		}
	}
	next, err := f.svc.Refresh(ctx, string(tok.Refresh))
	if err != nil {
		t.Fatal(err)
	}
	// With no reuse interval any reuse revokes, even a moment later.
	if _, err := f.svc.Refresh(ctx, string(tok.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("immediate reuse with interval 0: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, string(next.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("rotated token after reuse: %v", err)
	}
	// Expiry.
	tok, _ = f.login(t, "ada@example.com", "strongpass123")
	f.clock.Advance(time.Hour)
	if _, err := f.svc.Refresh(ctx, string(tok.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("expired: %v", err)
	}
}

func TestConcurrentRefreshesOfOneTokenNeverBothSucceedWithoutGrace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour})
	f.register(t, "ada@example.com")
	tok, _ := f.login(t, "ada@example.com", "strongpass123")
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := f.svc.Refresh(ctx, string(tok.Refresh)); err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d refreshes succeeded, want 1", ok.Load())
	}
}

func TestRefreshOfAnInactiveAccountRevokesTheSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	u := f.register(t, "ada@example.com")
	tok, _ := f.login(t, "ada@example.com", "strongpass123")
	// Deactivated behind the service's back, so its sessions were not revoked.
	if _, err := f.users.Update(ctx, u.ID, func(u *domain.User) error { u.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, string(tok.Refresh)); !errors.Is(err, domain.ErrAccountInactive) {
		t.Fatalf("refresh: %v, want ErrAccountInactive", err)
	}
	if s, _ := f.sessions.ByID(ctx, tok.SessionID); s.RevokedAt == nil {
		t.Error("session of an inactive account left live")
	}
}

func TestLoginLimitCountsAnIPv6ClientByItsSlash64(t *testing.T) {
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	for i := range policy.LoginFailuresPerMinute {
		ip := "2001:db8::" + string(rune('a'+i))
		if _, err := f.svc.Login(context.Background(), app.LoginInput{Email: "ada@example.com", Password: "wrongpass123", Client: app.Client{IP: ip}}); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	_, err := f.svc.Login(context.Background(), app.LoginInput{Email: "ada@example.com", Password: "strongpass123", Client: app.Client{IP: "2001:db8::ffff"}})
	if !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("another address in the same /64: %v, want ErrRateLimited", err)
	}
}

// refusingHasher is at capacity: it says so through Admit.
type refusingHasher struct{ *fakeHasher }

func (refusingHasher) Admit() error {
	return &domain.RetryError{Err: domain.ErrOverloaded, RetryAfter: time.Second}
}

func TestLoginAsksABoundedHasherBeforeAnyOtherWork(t *testing.T) {
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	svc, err := app.New(context.Background(), app.Deps{
		Users: f.users, Sessions: f.sessions, Hasher: refusingHasher{f.hasher},
		Tokens: &fakeTokens{issued: map[string]domain.AccessClaims{}, clock: f.clock}, Clock: f.clock,
	}, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	compares := f.hasher.compares.Load()
	_, err = svc.Login(context.Background(), app.LoginInput{Email: "ada@example.com", Password: "strongpass123"})
	if !errors.Is(err, domain.ErrOverloaded) {
		t.Fatalf("login on a saturated hasher: %v, want ErrOverloaded", err)
	}
	if f.hasher.compares.Load() != compares {
		t.Error("a refused login still compared")
	}
}

// gatedHasher holds every Compare until release is closed, so a test can
// have many password checks in flight at once.
type gatedHasher struct {
	*fakeHasher
	entered chan struct{}
	release chan struct{}
}

func (h *gatedHasher) Compare(ctx context.Context, hash domain.PasswordHash, pw domain.Password) error {
	h.entered <- struct{}{}
	<-h.release
	return h.fakeHasher.Compare(ctx, hash, pw)
}

// A burst of guesses sent together gets no more password checks than the
// limit allows: each is counted before its check, not after it fails.
func TestLoginLimitHoldsAgainstABurstOfConcurrentGuesses(t *testing.T) {
	const limit, burst = 10, 50
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	h := &gatedHasher{fakeHasher: f.hasher, entered: make(chan struct{}, burst), release: make(chan struct{})}
	svc, err := app.New(context.Background(), app.Deps{
		Users: f.users, Sessions: f.sessions, Hasher: h,
		Tokens:  &fakeTokens{issued: map[string]domain.AccessClaims{}, clock: f.clock},
		Limiter: memory.NewRateLimiter(f.clock), Clock: f.clock,
	}, app.Policy{AccessTTL: time.Minute, RefreshTTL: time.Hour, LoginFailuresPerMinute: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	login := func(pw string) error {
		_, err := svc.Login(context.Background(), app.LoginInput{Email: "ada@example.com", Password: pw, Client: app.Client{IP: "192.0.2.1"}})
		return err
	}
	results := make(chan error, burst)
	for range burst {
		go func() { results <- login("wrongpass123") }()
	}
	// Wait until every guess is either inside a check or refused; only
	// then may any check finish (and, before the fix, count a failure).
	var refused, invalid int
	for checking := 0; checking+refused < burst; {
		select {
		case <-h.entered:
			checking++
		case err := <-results:
			if !errors.Is(err, domain.ErrRateLimited) {
				t.Fatalf("a guess ended before any check finished: %v", err)
			}
			refused++
		case <-time.After(10 * time.Second):
			t.Fatalf("stuck with %d checking and %d refused of %d", checking, refused, burst)
		}
	}
	close(h.release)
	for range burst - refused {
		if err := <-results; !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("a checked guess: %v, want ErrInvalidCredentials", err)
		}
		invalid++
	}
	if invalid != limit || refused != burst-limit {
		t.Fatalf("%d guesses checked and %d refused, want %d and %d", invalid, refused, limit, burst-limit)
	}
	if err := login("strongpass123"); !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("the right password after %d failures: %v, want ErrRateLimited", limit, err)
	}
}

// Only failures count: logging in again and again with the right password
// never reaches the limit, and a success does not hide earlier failures.
func TestLoginLimitCountsOnlyFailures(t *testing.T) {
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	for i := range 3 * policy.LoginFailuresPerMinute {
		if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
			t.Fatalf("successful login %d: %v", i+1, err)
		}
	}
	for range policy.LoginFailuresPerMinute - 1 {
		if _, err := f.login(t, "ada@example.com", "wrongpass123"); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
		t.Fatalf("right password one failure under the limit: %v", err)
	}
	if _, err := f.login(t, "ada@example.com", "wrongpass123"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("right password at the limit: %v, want ErrRateLimited", err)
	}
}

// An account deactivated while a login's password check runs gets no
// session out of that login: deactivation revokes the sessions that exist,
// and the login looks at the account again after making its own.
func TestLoginRacingADeactivationLeavesNoLiveSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	u := f.register(t, "ada@example.com")
	h := &gatedHasher{fakeHasher: f.hasher, entered: make(chan struct{}, 1), release: make(chan struct{})}
	svc, err := app.New(ctx, app.Deps{
		Users: f.users, Sessions: f.sessions, Hasher: h,
		Tokens:  &fakeTokens{issued: map[string]domain.AccessClaims{}, clock: f.clock},
		Limiter: memory.NewRateLimiter(f.clock), Clock: f.clock,
	}, policy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	done := make(chan error, 1)
	go func() {
		_, err := svc.Login(ctx, app.LoginInput{Email: "ada@example.com", Password: "strongpass123", Client: app.Client{IP: "192.0.2.1"}})
		done <- err
	}()
	<-h.entered // the password is being checked; the account was read as active
	// What deactivation does (app.Service.UpdateUser): store it, revoke all.
	if _, err := f.users.Update(ctx, u.ID, func(u *domain.User) error { u.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.RevokeAllOf(ctx, u.ID, "", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-done; !errors.Is(err, domain.ErrAccountInactive) {
		t.Fatalf("login racing a deactivation: %v, want ErrAccountInactive", err)
	}
	if live, err := f.sessions.ListLive(ctx, u.ID, f.clock.Now()); err != nil || len(live) != 0 {
		t.Fatalf("live sessions after the race = %d (%v), want none", len(live), err)
	}
}
