package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// authed sends a request with access as its bearer token.
func (ts *testServer) authed(t *testing.T, access, method, path string, body any, headers ...string) response {
	t.Helper()
	return ts.do(t, method, path, body, append([]string{"Authorization", "Bearer " + access}, headers...)...)
}

// getMe returns GET /users/me as the holder of access sees it.
func (ts *testServer) getMe(t *testing.T, access string) user {
	t.Helper()
	var u user
	ts.authed(t, access, "GET", "/users/me", nil).want(t, http.StatusOK).decode(t, &u)
	return u
}

func str(s string) *string { return &s }

func TestUpdateMePartial(t *testing.T) {
	ts := newTestServer(t)
	created, tk := ts.account(t, "ada@example.com")
	ts.Clock.Advance(time.Minute)

	var u user
	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `{"name":"  Ada King  "}`).want(t, http.StatusOK).decode(t, &u)
	want := created
	want.Name, want.UpdatedAt = "Ada King", "2026-12-03T16:01:00Z"
	if u != want {
		t.Fatalf("after renaming: %+v\nwant %+v", u, want)
	}

	ts.authed(t, tk.AccessToken, "PATCH", "/users/me",
		`{"profile":{"first_name":"Ada","last_name":"King","phone_number":"+44 20 7946 0000","address":"St James's Square"}}`).
		want(t, http.StatusOK).decode(t, &u)
	if u.Name != "Ada King" || *u.Profile.FirstName != "Ada" || *u.Profile.PhoneNumber != "+44 20 7946 0000" {
		t.Fatalf("after setting the profile: %+v", u)
	}

	// null clears one member; the members left out stay.
	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `{"profile":{"phone_number":null}}`).want(t, http.StatusOK).decode(t, &u)
	wantProfile := profile{FirstName: str("Ada"), LastName: str("King"), Address: str("St James's Square")}
	if !sameProfile(u.Profile, wantProfile) {
		t.Fatalf("after clearing the phone number: %+v", u.Profile)
	}
	// An empty string is a value, not a clear.
	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `{"profile":{"address":""}}`).want(t, http.StatusOK).decode(t, &u)
	wantProfile.Address = str("")
	if !sameProfile(u.Profile, wantProfile) {
		t.Fatalf("after emptying the address: %+v", u.Profile)
	}

	// Nothing to change, and members that are not the caller's to change,
	// change nothing.
	for _, body := range []string{`{}`, `{"profile":{}}`, `{"email":"eve@example.com","role":"admin","is_active":false,"id":"x"}`} {
		var again user
		ts.authed(t, tk.AccessToken, "PATCH", "/users/me", body).want(t, http.StatusOK).decode(t, &again)
		if again.Email != "ada@example.com" || again.Role != "user" || !again.IsActive || again.ID != created.ID ||
			again.Name != "Ada King" || !sameProfile(again.Profile, wantProfile) {
			t.Fatalf("PATCH %s changed the account: %+v", body, again)
		}
	}

	// The next read sees the stored values.
	got := ts.getMe(t, tk.AccessToken)
	if got.Name != "Ada King" || !sameProfile(got.Profile, wantProfile) {
		t.Fatalf("GET /users/me after the updates: %+v", got)
	}
	// So does another session of the same user.
	other := ts.login(t, "ada@example.com", "correct horse battery")
	if got := ts.getMe(t, other.AccessToken); got.Name != "Ada King" {
		t.Fatalf("another session sees %+v", got)
	}
}

func sameUser(a, b user) bool {
	pa, pb := a.Profile, b.Profile
	a.Profile, b.Profile = profile{}, profile{}
	return a == b && sameProfile(pa, pb)
}

func sameProfile(a, b profile) bool {
	eq := func(x, y *string) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return eq(a.FirstName, b.FirstName) && eq(a.LastName, b.LastName) && eq(a.PhoneNumber, b.PhoneNumber) && eq(a.Address, b.Address)
}

func TestUpdateMeValidation(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `{"profile":{"first_name":"Ada","address":"London"}}`).want(t, http.StatusOK)
	before := ts.getMe(t, tk.AccessToken)

	long := strings.Repeat("x", 101)
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"null name", `{"name":null}`, []string{"name: must be a string"}},
		{"number as name", `{"name":42}`, []string{"name: must be a string"}},
		{"blank name", `{"name":"   "}`, []string{"name: must be at least 2 characters"}},
		{"long name", `{"name":"` + long + `"}`, []string{"name: must be at most 100 characters"}},
		{"null profile", `{"profile":null}`, []string{"profile: must be an object"}},
		{"string as profile", `{"profile":"x"}`, []string{"profile: must be an object"}},
		{"number as phone", `{"profile":{"phone_number":123}}`, []string{"profile.phone_number: must be a string or null"}},
		{"long phone", `{"profile":{"phone_number":"123456789012345678901"}}`, []string{"profile.phone_number: must be at most 20 characters"}},
		// A valid member next to a bad one: the valid one is not applied
		// either (checked below).
		{"valid name, bad phone", `{"name":"Grace Hopper","profile":{"phone_number":"123456789012345678901"}}`,
			[]string{"profile.phone_number: must be at most 20 characters"}},
		{"every field wrong at once",
			`{"name":7,"profile":{"first_name":1,"last_name":"` + long + `","phone_number":"123456789012345678901","address":"a\u0001b"}}`,
			[]string{
				"name: must be a string",
				"profile.first_name: must be a string or null",
				"profile.last_name: must be at most 100 characters",
				"profile.phone_number: must be at most 20 characters",
				"profile.address: must not contain control characters",
			}},
		{"a decode error and a rule at once", `{"name":"A","profile":{"first_name":false}}`,
			[]string{"name: must be at least 2 characters", "profile.first_name: must be a string or null"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ts.authed(t, tk.AccessToken, "PATCH", "/users/me", tc.body).want(t, http.StatusUnprocessableEntity).problem(t)
			if got := p.fields(); !slices.Equal(got, tc.want) {
				t.Errorf("errors\n\t%q\nwant\n\t%q", got, tc.want)
			}
			if p.Type != "urn:authd:problem:validation" {
				t.Errorf("type %q", p.Type)
			}
		})
	}
	if after := ts.getMe(t, tk.AccessToken); !sameUser(after, before) {
		t.Fatalf("a refused PATCH changed the account:\n%+v\nwas\n%+v", after, before)
	}

	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `{"name":`).want(t, http.StatusBadRequest)
	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `["name"]`).want(t, http.StatusBadRequest)
	ts.authed(t, tk.AccessToken, "PATCH", "/users/me", `{"name":"Ada"}`, "Content-Type", "", "Content-Type", "text/plain").
		want(t, http.StatusUnsupportedMediaType)
	ts.do(t, "PATCH", "/users/me", `{"name":"Eve"}`).want(t, http.StatusUnauthorized)
	if after := ts.getMe(t, tk.AccessToken); after.Name != before.Name {
		t.Fatalf("name is now %q", after.Name)
	}
}

func TestChangePassword(t *testing.T) {
	ts := newTestServer(t)
	_, caller := ts.account(t, "ada@example.com")
	other := ts.login(t, "ada@example.com", "correct horse battery")
	ts.secret("a brand new passphrase")

	ts.authed(t, caller.AccessToken, "PUT", "/users/me/password",
		map[string]string{"current_password": "correct horse battery", "new_password": "a brand new passphrase"}).
		want(t, http.StatusNoContent)

	// Every other session ended at once; the caller's goes on, refresh
	// included.
	ts.me(t, other.AccessToken).want(t, http.StatusUnauthorized)
	ts.refresh(t, other.RefreshToken).want(t, http.StatusUnauthorized)
	ts.me(t, caller.AccessToken).want(t, http.StatusOK)
	ts.refresh(t, caller.RefreshToken).want(t, http.StatusOK)

	ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}).
		want(t, http.StatusUnauthorized)
	ts.login(t, "ada@example.com", "a brand new passphrase")
}

func TestChangePasswordWrongCurrent(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	other := ts.login(t, "ada@example.com", "correct horse battery")
	ts.secret("not my password", "a brand new passphrase")

	r := ts.authed(t, tk.AccessToken, "PUT", "/users/me/password",
		map[string]string{"current_password": "not my password", "new_password": "a brand new passphrase"}).
		want(t, http.StatusUnauthorized)
	p := r.problem(t)
	if p.Detail != "Current password is incorrect" || p.Type != "urn:authd:problem:wrong-password" {
		t.Errorf("problem %+v", p)
	}
	// The token was fine: no challenge, and the session goes on.
	if h := r.Header.Get("WWW-Authenticate"); h != "" {
		t.Errorf("WWW-Authenticate %q on a wrong current password", h)
	}
	ts.me(t, tk.AccessToken).want(t, http.StatusOK)
	ts.me(t, other.AccessToken).want(t, http.StatusOK)
	ts.login(t, "ada@example.com", "correct horse battery")

	// A token that is not usable is still the usual 401, challenge included.
	r = ts.do(t, "PUT", "/users/me/password",
		map[string]string{"current_password": "correct horse battery", "new_password": "a brand new passphrase"}).
		want(t, http.StatusUnauthorized)
	if r.problem(t).Type != "urn:authd:problem:unauthenticated" || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %v %s", r.Header, r.Body)
	}
}

// A stolen access token must not become a way to guess the password:
// wrong current passwords are limited like failed logins.
func TestChangePasswordGuessingLimited(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	ts.secret("guess number one", "a brand new passphrase")
	body := map[string]string{"current_password": "guess number one", "new_password": "a brand new passphrase"}
	for range 10 {
		ts.authed(t, tk.AccessToken, "PUT", "/users/me/password", body).want(t, http.StatusUnauthorized)
	}
	body["current_password"] = "correct horse battery"
	r := ts.authed(t, tk.AccessToken, "PUT", "/users/me/password", body).want(t, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	ts.Clock.Advance(time.Minute)
	ts.authed(t, tk.AccessToken, "PUT", "/users/me/password", body).want(t, http.StatusNoContent)
}

func TestChangePasswordValidation(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	for _, tc := range []struct {
		name string
		body any
		want []string
	}{
		{"nothing", `{}`, []string{"current_password: is required", "new_password: is required"}},
		{"wrong types", `{"current_password":1,"new_password":null}`,
			[]string{"current_password: must be a string", "new_password: must be a string"}},
		{"short new one, and no current one", `{"new_password":"short"}`,
			[]string{"current_password: is required", "new_password: must be at least 8 characters"}},
		{"short new one", map[string]string{"current_password": "correct horse battery", "new_password": "short"},
			[]string{"new_password: must be at least 8 characters"}},
		{"spaces around the new one", map[string]string{"current_password": "correct horse battery", "new_password": " padded password "},
			[]string{"new_password: must not start or end with whitespace"}},
		{"the same again", map[string]string{"current_password": "correct horse battery", "new_password": "correct horse battery"},
			[]string{"new_password: must differ from the current password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ts.authed(t, tk.AccessToken, "PUT", "/users/me/password", tc.body).want(t, http.StatusUnprocessableEntity).problem(t)
			if got := p.fields(); !slices.Equal(got, tc.want) {
				t.Errorf("errors\n\t%q\nwant\n\t%q", got, tc.want)
			}
		})
	}
	// Nothing changed.
	ts.login(t, "ada@example.com", "correct horse battery")
	ts.authed(t, tk.AccessToken, "PUT", "/users/me/password", `not json`).want(t, http.StatusBadRequest)
}

// session is one item of GET /users/me/sessions.
type session struct {
	ID         string  `json:"id"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt string  `json:"last_used_at"`
	ExpiresAt  string  `json:"expires_at"`
	UserAgent  *string `json:"user_agent"`
	IP         *string `json:"ip"`
	Current    bool    `json:"current"`
}

func (ts *testServer) sessions(t *testing.T, access string) []session {
	t.Helper()
	var list []session
	ts.authed(t, access, "GET", "/users/me/sessions", nil).want(t, http.StatusOK).decode(t, &list)
	return list
}

// loginFrom logs in with extra request headers (User-Agent, X-Forwarded-For).
func (ts *testServer) loginFrom(t *testing.T, email, password string, headers ...string) tokens {
	t.Helper()
	ts.secret(password, email)
	var tk tokens
	ts.do(t, "POST", "/auth/login", map[string]string{"email": email, "password": password}, headers...).
		want(t, http.StatusOK).decode(t, &tk)
	return tk
}

func TestListSessions(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
	// The peer is 127.0.0.1, which is not a trusted proxy here: what it
	// writes in X-Forwarded-For is not believed.
	first := ts.loginFrom(t, "ada@example.com", "correct horse battery",
		"User-Agent", "Firefox/140", "X-Forwarded-For", "203.0.113.5")
	ts.Clock.Advance(5 * time.Minute)
	second := ts.loginFrom(t, "ada@example.com", "correct horse battery", "User-Agent", "curl/8.0")
	ts.Clock.Advance(5 * time.Minute)

	list := ts.sessions(t, first.AccessToken)
	want := []session{
		{ID: sid(t, second), CreatedAt: "2026-12-03T16:05:00Z", LastUsedAt: "2026-12-03T16:05:00Z",
			ExpiresAt: "2026-12-10T16:05:00Z", UserAgent: str("curl/8.0"), IP: str("127.0.0.1")},
		{ID: sid(t, first), CreatedAt: "2026-12-03T16:00:00Z", LastUsedAt: "2026-12-03T16:00:00Z",
			ExpiresAt: "2026-12-10T16:00:00Z", UserAgent: str("Firefox/140"), IP: str("127.0.0.1"), Current: true},
	}
	assertSessions(t, "listed by the first session", list, want)

	// current follows the token asking.
	want[0].Current, want[1].Current = true, false
	assertSessions(t, "listed by the second session", ts.sessions(t, second.AccessToken), want)

	// Requests do not count as use; a refresh does, and moves the expiry on.
	ts.me(t, first.AccessToken).want(t, http.StatusOK)
	assertSessions(t, "after a request", ts.sessions(t, second.AccessToken), want)
	var refreshed tokens
	ts.refresh(t, first.RefreshToken).want(t, http.StatusOK).decode(t, &refreshed)
	want[1].LastUsedAt, want[1].ExpiresAt = "2026-12-03T16:10:00Z", "2026-12-10T16:10:00Z"
	assertSessions(t, "after a refresh", ts.sessions(t, second.AccessToken), want)

	// Sessions that ended are not listed.
	ts.authed(t, refreshed.AccessToken, "POST", "/auth/logout", nil).want(t, http.StatusNoContent)
	assertSessions(t, "after a logout", ts.sessions(t, second.AccessToken), want[:1])
}

// Behind a trusted proxy the client address comes from X-Forwarded-For:
// the hop the proxy appended, not what the client wrote left of it.
func TestListSessionsBehindTrustedProxy(t *testing.T) {
	ts := newTestServer(t, withTrustedProxies("127.0.0.0/8"))
	ts.register(t, "Ada Lovelace", "ada@example.com", "correct horse battery")
	tk := ts.loginFrom(t, "ada@example.com", "correct horse battery",
		"User-Agent", "Firefox/140", "X-Forwarded-For", "198.51.100.9, 203.0.113.5")
	list := ts.sessions(t, tk.AccessToken)
	if len(list) != 1 || list[0].IP == nil || *list[0].IP != "203.0.113.5" || *list[0].UserAgent != "Firefox/140" {
		t.Fatalf("sessions: %+v", list)
	}
}

func sid(t *testing.T, tk tokens) string {
	t.Helper()
	id, _ := claimsOf(t, tk.AccessToken)["sid"].(string)
	if id == "" {
		t.Fatal("access token without sid")
	}
	return id
}

func assertSessions(t *testing.T, what string, got, want []session) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("%s:\n\t%s\nwant\n\t%s", what, g, w)
	}
	current := 0
	for _, s := range got {
		if s.Current {
			current++
		}
	}
	if current != 1 {
		t.Fatalf("%s: %d sessions marked current", what, current)
	}
}

func TestRevokeSession(t *testing.T) {
	ts := newTestServer(t)
	_, caller := ts.account(t, "ada@example.com")
	other := ts.login(t, "ada@example.com", "correct horse battery")

	r := ts.authed(t, caller.AccessToken, "DELETE", "/users/me/sessions/"+sid(t, other), nil).want(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body %q", r.Body)
	}
	// It stopped working at once, refresh included; the caller's did not.
	ts.me(t, other.AccessToken).want(t, http.StatusUnauthorized)
	ts.refresh(t, other.RefreshToken).want(t, http.StatusUnauthorized)
	ts.me(t, caller.AccessToken).want(t, http.StatusOK)
	if list := ts.sessions(t, caller.AccessToken); len(list) != 1 || list[0].ID != sid(t, caller) {
		t.Fatalf("sessions after the revocation: %+v", list)
	}
	// Once ended, it is gone as far as the owner can tell.
	ts.authed(t, caller.AccessToken, "DELETE", "/users/me/sessions/"+sid(t, other), nil).want(t, http.StatusNotFound)

	// Ending one's own current session is a logout.
	ts.authed(t, caller.AccessToken, "DELETE", "/users/me/sessions/"+sid(t, caller), nil).want(t, http.StatusNoContent)
	ts.me(t, caller.AccessToken).want(t, http.StatusUnauthorized)
}

// Another user's session id gets exactly the answer of an id that does not
// exist, so ids cannot be probed, and the session goes on.
func TestRevokeSessionOfAnotherUser(t *testing.T) {
	ts := newTestServer(t)
	_, mallory := ts.account(t, "mallory@example.com")
	_, victim := ts.account(t, "victim@example.com")

	theirs := ts.authed(t, mallory.AccessToken, "DELETE", "/users/me/sessions/"+sid(t, victim), nil, "X-Request-ID", "probe").
		want(t, http.StatusNotFound)
	random := ts.authed(t, mallory.AccessToken, "DELETE", "/users/me/sessions/0193f4c2-0000-7000-8000-000000000000", nil, "X-Request-ID", "probe").
		want(t, http.StatusNotFound)
	if !bytes.Equal(theirs.Body, random.Body) {
		t.Errorf("answers differ:\n\t%s\n\t%s", theirs.Body, random.Body)
	}
	ts.me(t, victim.AccessToken).want(t, http.StatusOK)
	ts.refresh(t, victim.RefreshToken).want(t, http.StatusOK)
	if list := ts.sessions(t, mallory.AccessToken); len(list) != 1 {
		t.Errorf("mallory sees %d sessions", len(list))
	}
	ts.do(t, "DELETE", "/users/me/sessions/"+sid(t, victim), nil).want(t, http.StatusUnauthorized)
	ts.do(t, "GET", "/users/me/sessions", nil).want(t, http.StatusUnauthorized)
}
