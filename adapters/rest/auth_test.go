package rest

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

var (
	created = time.Date(2026, 12, 3, 17, 0, 0, 123456789, time.FixedZone("CET", 3600))
	ada     = domain.User{
		ID: "0193f4c2-0000-7000-8000-000000000001", Name: "Ada Lovelace", Email: "ada@example.com",
		PasswordHash: "$2a$10$secrethashsecrethashsecrethashsecrethashsecrethashsec",
		IsActive:     true, Role: domain.RoleUser, CreatedAt: created, UpdatedAt: created.Add(time.Hour), Version: 7,
	}
)

// The user object exactly as API.md shows it: UTC, whole seconds, every
// profile field present and null, and nothing else.
const adaJSON = `{"id":"0193f4c2-0000-7000-8000-000000000001","name":"Ada Lovelace","email":"ada@example.com",` +
	`"is_active":true,"role":"user","created_at":"2026-12-03T16:00:00Z","updated_at":"2026-12-03T17:00:00Z",` +
	`"profile":{"first_name":null,"last_name":null,"phone_number":null,"address":null}}`

func TestRegister(t *testing.T) {
	var got app.RegisterInput
	stub := &stubApp{RegisterFn: func(_ context.Context, in app.RegisterInput) (domain.User, error) {
		got = in
		return ada, nil
	}}
	s, _ := newServer(t, Options{App: stub})
	w := call(s, "POST", "/auth/register", `{"name":" Ada Lovelace ","email":"Ada@Example.com","password":"correct horse","extra":1}`)
	if w.Code != 201 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	// The use case normalises; the adapter passes what the client sent.
	if got != (app.RegisterInput{Name: " Ada Lovelace ", Email: "Ada@Example.com", Password: "correct horse"}) {
		t.Errorf("input %+v", got)
	}
	if strings.TrimSpace(w.Body.String()) != adaJSON {
		t.Errorf("body\n%s\nwant\n%s", w.Body, adaJSON)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestUserResponseProfile(t *testing.T) {
	first, phone := "Ada", "+44 20 7946 0000"
	u := ada
	u.Profile = domain.Profile{FirstName: &first, PhoneNumber: &phone}
	b, err := json.Marshal(newUserResponse(u))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"profile":{"first_name":"Ada","last_name":null,"phone_number":"+44 20 7946 0000","address":null}`) {
		t.Errorf("profile: %s", b)
	}
	if strings.Contains(string(b), "$2a$") || strings.Contains(string(b), "ersion") {
		t.Errorf("internal field in the user object: %s", b)
	}
}

// When decoding fails, the domain's rules still run on the fields that did
// decode, so one 422 names every problem; the use case is not called.
func TestRegisterReportsEveryProblemAtOnce(t *testing.T) {
	stub := &stubApp{RegisterFn: func(context.Context, app.RegisterInput) (domain.User, error) {
		t.Error("Register called with an input that failed to decode")
		return domain.User{}, nil
	}}
	s, _ := newServer(t, Options{App: stub})
	tests := []struct {
		body string
		want []fieldProblem
	}{
		{`{}`, []fieldProblem{{"name", "is required"}, {"email", "is required"}, {"password", "is required"}}},
		{`{"name":1,"email":"nope","password":"short"}`, []fieldProblem{
			{"name", "must be a string"}, {"email", "must be a valid email address"}, {"password", "must be at least 8 characters"}}},
		{`{"name":"Ada","email":["a@b.co"],"password":" padded password"}`, []fieldProblem{
			{"email", "must be a string"}, {"password", "must not start or end with whitespace"}}},
		{`{"name":"Ada","email":"ada@example.com","password":null}`, []fieldProblem{{"password", "must be a string"}}},
	}
	for _, tt := range tests {
		w := call(s, "POST", "/auth/register", tt.body)
		if w.Code != 422 {
			t.Errorf("%s: status %d", tt.body, w.Code)
			continue
		}
		if p := decodeProblem(t, w); !equalProblems(p.Errors, tt.want) {
			t.Errorf("%s: errors %v, want %v", tt.body, p.Errors, tt.want)
		}
	}
}

func equalProblems(a, b []fieldProblem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLogin(t *testing.T) {
	var got app.LoginInput
	stub := &stubApp{LoginFn: func(_ context.Context, in app.LoginInput) (app.Tokens, error) {
		got = in
		return app.Tokens{Access: "acc.ess.tok", Refresh: "refresh-secret", ExpiresIn: 15*time.Minute + 900*time.Millisecond, SessionID: "s1"}, nil
	}}
	s, _ := newServer(t, Options{App: stub})
	w := call(s, "POST", "/auth/login", `{"email":"ada@example.com","password":"correct horse"}`, "User-Agent", "Locust/2.12")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := app.LoginInput{Email: "ada@example.com", Password: "correct horse", Client: app.Client{IP: "192.0.2.1", UserAgent: "Locust/2.12"}}
	if got != want {
		t.Errorf("input %+v", got)
	}
	const body = `{"access_token":"acc.ess.tok","refresh_token":"refresh-secret","token_type":"bearer","expires_in":900}`
	if strings.TrimSpace(w.Body.String()) != body {
		t.Errorf("body %s, want %s", w.Body, body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("tokens without Cache-Control: no-store")
	}
}

// Login does not apply the registration rules: they would tell a guesser
// which inputs cannot be anyone's password.
func TestLoginValidatesShapeOnly(t *testing.T) {
	calls := 0
	stub := &stubApp{LoginFn: func(context.Context, app.LoginInput) (app.Tokens, error) {
		calls++
		return app.Tokens{}, domain.ErrInvalidCredentials
	}}
	s, _ := newServer(t, Options{App: stub})
	if w := call(s, "POST", "/auth/login", `{"email":"not-an-email","password":"x"}`); w.Code != 401 || calls != 1 {
		t.Errorf("status %d, calls %d", w.Code, calls)
	}
	w := call(s, "POST", "/auth/login", `{"email":5}`)
	if w.Code != 422 || calls != 1 {
		t.Fatalf("status %d, calls %d", w.Code, calls)
	}
	if p := decodeProblem(t, w); !equalProblems(p.Errors, []fieldProblem{{"email", "must be a string"}, {"password", "is required"}}) {
		t.Errorf("errors %v", p.Errors)
	}
}

func TestRefresh(t *testing.T) {
	stub := &stubApp{RefreshFn: func(_ context.Context, tok string) (app.Tokens, error) {
		if tok != "old" {
			return app.Tokens{}, domain.ErrUnauthenticated
		}
		return app.Tokens{Access: "a2", Refresh: "r2", ExpiresIn: time.Minute}, nil
	}}
	s, _ := newServer(t, Options{App: stub})
	w := call(s, "POST", "/auth/refresh", `{"refresh_token":"old"}`)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"access_token":"a2","refresh_token":"r2","token_type":"bearer","expires_in":60}` {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	w = call(s, "POST", "/auth/refresh", `{"refresh_token":"other"}`)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("%d %v", w.Code, w.Header())
	}
	if w := call(s, "POST", "/auth/refresh", `{"token":"old"}`); w.Code != 422 {
		t.Errorf("missing refresh_token: %d", w.Code)
	}
}

func TestLogoutAndMe(t *testing.T) {
	sess := domain.Session{ID: "s1", UserID: ada.ID}
	var loggedOut app.Principal
	stub := &stubApp{
		AuthenticateFn: func(_ context.Context, tok string) (app.Principal, error) {
			if tok != "tok" {
				return app.Principal{}, domain.ErrUnauthenticated
			}
			return app.Principal{User: ada, Session: sess}, nil
		},
		LogoutFn: func(_ context.Context, p app.Principal) error { loggedOut = p; return nil },
	}
	s, _ := newServer(t, Options{App: stub})
	for _, path := range []string{"/auth/me", "/users/me"} {
		w := call(s, "GET", path, "", "Authorization", "Bearer tok")
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != adaJSON {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	w := call(s, "POST", "/auth/logout", "", "Authorization", "Bearer tok")
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Errorf("logout: %d %q", w.Code, w.Body)
	}
	if loggedOut.Session.ID != "s1" || loggedOut.User.ID != ada.ID {
		t.Errorf("Logout got %+v", loggedOut)
	}
	if w := call(s, "POST", "/auth/logout", ""); w.Code != 401 {
		t.Errorf("logout without a token: %d", w.Code)
	}
}

func TestPrincipalWithoutMiddleware(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := s.echo.NewContext(httptest.NewRequest("GET", "/auth/me", nil), httptest.NewRecorder())
	if _, err := principal(c); err != errNoPrincipal {
		t.Errorf("principal without requireBearer: %v", err)
	}
}
