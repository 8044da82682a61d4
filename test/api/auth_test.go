package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

func TestRegister(t *testing.T) {
	ts := newTestServer(t)
	ts.secret("correct horse battery")
	r := ts.do(t, "POST", "/auth/register",
		`{"name":"  Ada Lovelace ","email":" Ada@Example.com","password":"correct horse battery","role":"admin","is_active":false}`).
		want(t, http.StatusCreated)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	var u user
	r.decode(t, &u)
	// Unknown fields are ignored: a client cannot make itself an admin.
	want := user{ID: u.ID, Name: "Ada Lovelace", Email: "ada@example.com", IsActive: true, Role: "user",
		CreatedAt: "2026-12-03T16:00:00Z", UpdatedAt: "2026-12-03T16:00:00Z"}
	if u != want || u.ID == "" {
		t.Errorf("user %+v\nwant %+v", u, want)
	}
	// Exactly the documented members, profile ones present and null.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	if strings.Join(keys, ",") != "created_at,email,id,is_active,name,profile,role,updated_at" {
		t.Errorf("user members %v", keys)
	}
	if string(raw["profile"]) != `{"first_name":null,"last_name":null,"phone_number":null,"address":null}` {
		t.Errorf("profile %s", raw["profile"])
	}
}

func TestRegisterEmailTakenIgnoringCase(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "Ada Lovelace", "Ada@Example.com", "correct horse battery")
	r := ts.do(t, "POST", "/auth/register", map[string]string{
		"name": "Another Ada", "email": "ada@example.com", "password": "another password",
	}).want(t, http.StatusConflict)
	if p := r.problem(t); p.Detail != "Email already registered" {
		t.Errorf("detail %q", p.Detail)
	}
}

func TestRegisterValidation(t *testing.T) {
	ts := newTestServer(t)
	valid := map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery"}
	with := func(field string, value any) map[string]any {
		m := map[string]any{}
		for k, v := range valid {
			m[k] = v
		}
		if value == nil {
			delete(m, field)
		} else {
			m[field] = value
		}
		return m
	}
	tests := []struct {
		name string
		body any
		want []string
	}{
		{"name too short", with("name", "A"), []string{"name: must be at least 2 characters"}},
		{"name too short after trimming", with("name", "  A  "), []string{"name: must be at least 2 characters"}},
		{"name blank", with("name", "     "), []string{"name: must be at least 2 characters"}},
		{"name too long", with("name", strings.Repeat("é", 101)), []string{"name: must be at most 100 characters"}},
		{"name control character", with("name", "Ada\u0000Lovelace"), []string{"name: must not contain control characters"}},
		{"bad email", with("email", "ada.example.com"), []string{"email: must be a valid email address"}},
		{"email with a display name", with("email", "Ada <ada@example.com>"), []string{"email: must be a valid email address"}},
		{"password too short", with("password", "1234567"), []string{"password: must be at least 8 characters"}},
		{"password too long", with("password", strings.Repeat("p", 129)), []string{"password: must be at most 128 characters"}},
		{"password leading space", with("password", " correct horse"), []string{"password: must not start or end with whitespace"}},
		{"password trailing space", with("password", "correct horse "), []string{"password: must not start or end with whitespace"}},
		{"password control character", with("password", "correct\u0007horse"), []string{"password: must not contain control characters"}},
		{"missing name", with("name", nil), []string{"name: is required"}},
		{"everything missing", map[string]any{}, []string{"name: is required", "email: is required", "password: is required"}},
		{"wrong types", map[string]any{"name": 12, "email": true, "password": []string{"x"}},
			[]string{"name: must be a string", "email: must be a string", "password: must be a string"}},
		{"null", map[string]any{"name": nil, "email": "ada@example.com", "password": "correct horse battery"},
			[]string{"name: must be a string"}},
		{"every problem at once", map[string]any{"name": "A", "email": 5, "password": "short"},
			[]string{"name: must be at least 2 characters", "email: must be a string", "password: must be at least 8 characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/auth/register", tt.body).want(t, http.StatusUnprocessableEntity)
			p := r.problem(t)
			if got := p.fields(); !slices.Equal(got, tt.want) {
				t.Errorf("errors %q\nwant   %q", got, tt.want)
			}
			if !strings.HasPrefix(p.Detail, "Invalid input") {
				t.Errorf("detail %q", p.Detail)
			}
		})
	}
	// A request that fails validation changes nothing.
	ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
}

func TestRegisterMalformedBodies(t *testing.T) {
	ts := newTestServer(t)
	big := `{"name":"Ada Lovelace","email":"ada@example.com","password":"correct horse battery","pad":"` +
		strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name    string
		body    any
		headers []string
		want    int
	}{
		{"truncated JSON", `{"name":"Ada Lovelace","email":"ada@exa`, nil, 400},
		{"trailing garbage", `{"name":"Ada Lovelace","email":"ada@example.com","password":"correct horse battery"} x`, nil, 400},
		{"empty body", ``, nil, 400},
		{"array", `[{"name":"Ada Lovelace"}]`, nil, 400},
		{"lone surrogate escape in the password", `{"name":"Ada Lovelace","email":"ada@example.com","password":"correct horse\ud800"}`, nil, 400},
		{"70 KiB", big, nil, 413},
		{"70 KiB chunked", strings.NewReader(big), nil, 413},
		{"text/plain", `{"name":"Ada Lovelace","email":"ada@example.com","password":"correct horse battery"}`,
			[]string{"Content-Type", "", "Content-Type", "text/plain"}, 415},
		{"charset utf-8 is fine", `{"name":"Ada Lovelace","email":"ada@example.com","password":"correct horse battery"}`,
			[]string{"Content-Type", "", "Content-Type", "application/json; charset=utf-8"}, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.do(t, "POST", "/auth/register", tt.body, tt.headers...).want(t, tt.want)
		})
	}
}

func TestRegisterConcurrentSameEmail(t *testing.T) {
	ts := newTestServer(t)
	codes := make([]int, 10)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			body := map[string]string{"name": "Ada " + strconv.Itoa(i), "email": "ADA@example.com", "password": "correct horse battery"}
			if i%2 == 0 {
				body["email"] = "ada@EXAMPLE.com"
			}
			codes[i] = ts.do(t, "POST", "/auth/register", body).Status
		})
	}
	wg.Wait()
	slices.Sort(codes)
	want := []int{201, 409, 409, 409, 409, 409, 409, 409, 409, 409}
	if !slices.Equal(codes, want) {
		t.Errorf("statuses %v, want %v", codes, want)
	}
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
	r := ts.do(t, "POST", "/auth/login", map[string]string{"email": " ADA@example.com ", "password": "correct horse battery"}).
		want(t, http.StatusOK)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	var raw map[string]any
	r.decode(t, &raw)
	if len(raw) != 4 || raw["token_type"] != "bearer" || raw["expires_in"] != float64(900) {
		t.Errorf("token response %s", r.Body)
	}
	access, _ := raw["access_token"].(string)
	refresh, _ := raw["refresh_token"].(string)
	if strings.Count(access, ".") != 2 || len(refresh) < 32 || access == refresh {
		t.Errorf("tokens %q, %q", access, refresh)
	}
	ts.me(t, access).want(t, http.StatusOK)
}

// An unknown email and a wrong password get the same answer, byte for byte
// (the client sends the same request id so that part matches too).
func TestLoginFailuresLookAlike(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
	ts.secret("wrong password")
	unknown := ts.do(t, "POST", "/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong password"},
		"X-Request-ID", "same-id").want(t, http.StatusUnauthorized)
	wrong := ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password"},
		"X-Request-ID", "same-id").want(t, http.StatusUnauthorized)
	malformed := ts.do(t, "POST", "/auth/login", map[string]string{"email": "not an email", "password": "x"},
		"X-Request-ID", "same-id").want(t, http.StatusUnauthorized)
	if !bytes.Equal(unknown.Body, wrong.Body) || !bytes.Equal(unknown.Body, malformed.Body) {
		t.Errorf("bodies differ:\n%s\n%s\n%s", unknown.Body, wrong.Body, malformed.Body)
	}
	for _, h := range []string{"Content-Type", "WWW-Authenticate", "Content-Length"} {
		if unknown.Header.Get(h) != wrong.Header.Get(h) {
			t.Errorf("%s differs: %q vs %q", h, unknown.Header.Get(h), wrong.Header.Get(h))
		}
	}
	if p := wrong.problem(t); p.Detail != "Invalid email or password" {
		t.Errorf("detail %q", p.Detail)
	}
	r := ts.do(t, "POST", "/auth/login", `{"email":"ada@example.com"}`).want(t, http.StatusUnprocessableEntity)
	if got := r.problem(t).fields(); !slices.Equal(got, []string{"password: is required"}) {
		t.Errorf("errors %q", got)
	}
}

func TestLoginInactive(t *testing.T) {
	ts := newTestServer(t)
	u := ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
	deactivate(t, ts, u.ID)
	r := ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}).
		want(t, http.StatusForbidden)
	if p := r.problem(t); p.Type != "urn:authd:problem:account-inactive" {
		t.Errorf("type %q", p.Type)
	}
	// The wrong password still says only that.
	ts.secret("wrong password")
	ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password"}).
		want(t, http.StatusUnauthorized)
}

func deactivate(t *testing.T, ts *testServer, id string) {
	t.Helper()
	_, err := ts.Users.Update(context.Background(), domain.UserID(id), func(u *domain.User) error {
		u.IsActive = false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Past AUTH_LOGIN_RATE_PER_MINUTE failures, every login for that account
// from that address is 429, the right password included, until the window
// has passed; another address is not affected.
func TestLoginRateLimit(t *testing.T) {
	ts := newTestServer(t, withTrustedProxies("127.0.0.0/8"), withPolicy(func(p *app.Policy) { p.LoginFailuresPerMinute = 3 }))
	ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
	ts.secret("wrong password")
	attacker := []string{"X-Forwarded-For", "198.51.100.7"}
	for range 3 {
		ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "wrong password"}, attacker...).
			want(t, http.StatusUnauthorized)
	}
	ts.Clock.Advance(20 * time.Second)
	r := ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}, attacker...).
		want(t, http.StatusTooManyRequests)
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra != 40 {
		t.Errorf("Retry-After %q, want 40", r.Header.Get("Retry-After"))
	}
	ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"},
		"X-Forwarded-For", "198.51.100.8").want(t, http.StatusOK)

	ts.Clock.Advance(40 * time.Second)
	ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}, attacker...).
		want(t, http.StatusOK)
}

func TestRefreshRotates(t *testing.T) {
	ts := newTestServer(t)
	_, first := ts.account(t, "ada@example.com")
	var second tokens
	ts.refresh(t, first.RefreshToken).want(t, http.StatusOK).decode(t, &second)
	if second.TokenType != "bearer" || second.ExpiresIn != 900 || second.RefreshToken == first.RefreshToken ||
		second.AccessToken == first.AccessToken {
		t.Errorf("refreshed pair %+v", second)
	}
	ts.me(t, second.AccessToken).want(t, http.StatusOK)
	var third tokens
	ts.refresh(t, second.RefreshToken).want(t, http.StatusOK).decode(t, &third)
	ts.me(t, third.AccessToken).want(t, http.StatusOK)
}

func TestRefreshUnknown(t *testing.T) {
	ts := newTestServer(t)
	ts.account(t, "ada@example.com")
	for _, tok := range []string{"no-such-token", ""} {
		r := ts.refresh(t, tok).want(t, http.StatusUnauthorized)
		if r.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
	}
	ts.do(t, "POST", "/auth/refresh", `{"refresh_token":42}`).want(t, http.StatusUnprocessableEntity)
	ts.do(t, "POST", "/auth/refresh", `{}`).want(t, http.StatusUnprocessableEntity)
}

// Reuse of a rotated token after the grace interval suggests theft: the
// whole session dies, its access token and newest refresh token included.
func TestRefreshReuseRevokesSession(t *testing.T) {
	ts := newTestServer(t)
	_, first := ts.account(t, "ada@example.com")
	_, other := ts.account(t, "bob@example.com")
	var second tokens
	ts.refresh(t, first.RefreshToken).want(t, http.StatusOK).decode(t, &second)

	ts.Clock.Advance(10*time.Second + time.Millisecond)
	ts.refresh(t, first.RefreshToken).want(t, http.StatusUnauthorized)

	ts.me(t, second.AccessToken).want(t, http.StatusUnauthorized)
	ts.me(t, first.AccessToken).want(t, http.StatusUnauthorized)
	ts.refresh(t, second.RefreshToken).want(t, http.StatusUnauthorized)
	// Another user's session is untouched.
	ts.me(t, other.AccessToken).want(t, http.StatusOK)
	if n := len(ts.logs.records(t, "refresh token reused after rotation; session revoked")); n != 1 {
		t.Errorf("%d reuse warnings logged, want 1", n)
	}
}

// Two tabs refreshing at once: within the grace interval the rotated
// token is exchanged again and both tabs keep working.
func TestRefreshReuseWithinGrace(t *testing.T) {
	ts := newTestServer(t)
	_, first := ts.account(t, "ada@example.com")
	var tab1, tab2 tokens
	ts.refresh(t, first.RefreshToken).want(t, http.StatusOK).decode(t, &tab1)
	ts.Clock.Advance(10 * time.Second)
	ts.refresh(t, first.RefreshToken).want(t, http.StatusOK).decode(t, &tab2)
	if tab1.RefreshToken == tab2.RefreshToken {
		t.Error("the grace exchange returned the same refresh token")
	}
	ts.me(t, tab1.AccessToken).want(t, http.StatusOK)
	ts.me(t, tab2.AccessToken).want(t, http.StatusOK)
	ts.refresh(t, tab1.RefreshToken).want(t, http.StatusOK)
	ts.refresh(t, tab2.RefreshToken).want(t, http.StatusOK)
}

func TestRefreshExpired(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	ts.Clock.Advance(168*time.Hour + time.Second)
	ts.refresh(t, tk.RefreshToken).want(t, http.StatusUnauthorized)
}

func TestRefreshInactive(t *testing.T) {
	ts := newTestServer(t)
	u, tk := ts.account(t, "ada@example.com")
	deactivate(t, ts, u.ID)
	ts.refresh(t, tk.RefreshToken).want(t, http.StatusForbidden)
}

// With no grace interval, of 20 concurrent exchanges of one token exactly
// one wins; the rest are reuse, which revokes the session.
func TestRefreshConcurrentNoGrace(t *testing.T) {
	ts := newTestServer(t, withPolicy(func(p *app.Policy) { p.RefreshReuseInterval = 0 }))
	_, tk := ts.account(t, "ada@example.com")
	results := make([]response, 20)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = ts.refresh(t, tk.RefreshToken) })
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
		default:
			t.Errorf("unexpected %s", r)
		}
	}
	if ok != 1 {
		t.Errorf("%d exchanges succeeded, want exactly 1", ok)
	}
}

func TestLogout(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	other := ts.login(t, "ada@example.com", "correct horse battery") // a second session of the same user
	r := ts.do(t, "POST", "/auth/logout", nil, "Authorization", "Bearer "+tk.AccessToken).want(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %q", r.Body)
	}
	ts.me(t, tk.AccessToken).want(t, http.StatusUnauthorized)
	ts.refresh(t, tk.RefreshToken).want(t, http.StatusUnauthorized)
	ts.do(t, "POST", "/auth/logout", nil, "Authorization", "Bearer "+tk.AccessToken).want(t, http.StatusUnauthorized)
	// Only that session ended.
	ts.me(t, other.AccessToken).want(t, http.StatusOK)
	ts.do(t, "POST", "/auth/logout", nil).want(t, http.StatusUnauthorized)
}

func TestMe(t *testing.T) {
	ts := newTestServer(t)
	u, tk := ts.account(t, "ada@example.com")
	for _, path := range []string{"/auth/me", "/users/me"} {
		r := ts.do(t, "GET", path, nil, "Authorization", "bearer "+tk.AccessToken).want(t, http.StatusOK)
		var got user
		r.decode(t, &got)
		if got != u {
			t.Errorf("%s: %+v, want %+v", path, got, u)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, r.Header.Get("Cache-Control"))
		}
	}
}

func TestMeInactive(t *testing.T) {
	ts := newTestServer(t)
	u, tk := ts.account(t, "ada@example.com")
	deactivate(t, ts, u.ID)
	for _, path := range []string{"/auth/me", "/users/me"} {
		r := ts.do(t, "GET", path, nil, "Authorization", "Bearer "+tk.AccessToken).want(t, http.StatusForbidden)
		if r.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("403 with a challenge: %q", r.Header.Get("WWW-Authenticate"))
		}
	}
}
