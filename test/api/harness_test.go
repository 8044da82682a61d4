// Package api tests the HTTP API through the real router, wired the way
// cmd/authd wires it but on in-process stores: memory stores and limiter,
// bcrypt at its minimum cost, HS256 tokens with a random key, and a manual
// clock so expiry and grace intervals are tested without sleeping.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	xbcrypt "golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/adapters/bcrypt"
	"github.com/authd/authd/adapters/jwt"
	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/adapters/prom"
	"github.com/authd/authd/adapters/rest"
	"github.com/authd/authd/app"
	"github.com/authd/authd/ports"
)

// start is where every test's clock begins.
var start = time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)

const (
	issuer   = "authd"
	audience = "authd"
)

// settings are what a test may change about the server; options set them.
type settings struct {
	policy  app.Policy
	ipRate  int
	trusted []netip.Prefix
	origins []string
	ready   map[string]func(context.Context) error
	// users wraps the memory user store, to inject failures.
	users func(ports.UserStore) ports.UserStore
}

type option func(*settings)

func withPolicy(fn func(*app.Policy)) option { return func(s *settings) { fn(&s.policy) } }
func withIPRate(n int) option                { return func(s *settings) { s.ipRate = n } }
func withTrustedProxies(cidrs ...string) option {
	return func(s *settings) {
		for _, c := range cidrs {
			s.trusted = append(s.trusted, netip.MustParsePrefix(c))
		}
	}
}
func withCORSOrigins(origins ...string) option { return func(s *settings) { s.origins = origins } }
func withReady(checks map[string]func(context.Context) error) option {
	return func(s *settings) { s.ready = checks }
}
func withUsers(wrap func(ports.UserStore) ports.UserStore) option {
	return func(s *settings) { s.users = wrap }
}

// testServer is one fully wired instance serving over a loopback socket.
type testServer struct {
	URL      string
	Clock    *memory.ManualClock
	Users    *memory.UserStore
	Sessions *memory.SessionStore
	Secret   []byte // the HS256 key, for forging tokens
	client   *http.Client
	logs     *logBuffer
	// secrets are strings that must never appear in a log line: passwords
	// sent, tokens received, full email addresses.
	secretsMu sync.Mutex
	secrets   []string
}

// newTestServer wires and starts a server with the production defaults of
// API.md, changed by opts. Everything is torn down when t ends, after
// checking that no secret reached the log.
func newTestServer(t *testing.T, opts ...option) *testServer {
	t.Helper()
	cfg := settings{
		policy: app.Policy{
			AccessTTL: 15 * time.Minute, RefreshTTL: 168 * time.Hour,
			RefreshReuseInterval: 10 * time.Second, LoginFailuresPerMinute: 10,
		},
		ipRate: 600,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ts := &testServer{
		Clock:    memory.NewManualClock(start),
		Users:    memory.NewUserStore(),
		Sessions: memory.NewSessionStore(),
		Secret:   make([]byte, 32),
		logs:     &logBuffer{},
	}
	_, _ = rand.Read(ts.Secret)
	logger := slog.New(rest.LogHandler(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	tokens, err := jwt.NewIssuer(jwt.Options{Secret: ts.Secret, Issuer: issuer, Audience: audience, TTL: cfg.policy.AccessTTL, Clock: ts.Clock})
	if err != nil {
		t.Fatal(err)
	}
	var users ports.UserStore = ts.Users
	if cfg.users != nil {
		users = cfg.users(users)
	}
	limiter := memory.NewRateLimiter(ts.Clock)
	svc, err := app.New(t.Context(), app.Deps{
		Users: users, Sessions: ts.Sessions, Directory: ts.Users, Hasher: bcrypt.NewHasher(xbcrypt.MinCost),
		Tokens: tokens, Limiter: limiter, Clock: ts.Clock, Logger: logger,
	}, cfg.policy)
	if err != nil {
		t.Fatal(err)
	}
	metrics := prom.New(prom.Sources{Version: "test"})
	handler := rest.NewServer(rest.Options{
		App: svc, Limiter: limiter, IPRatePerMinute: cfg.ipRate, TrustedProxies: cfg.trusted, CORSOrigins: cfg.origins,
		Ready: cfg.ready, ReadyTimeout: 100 * time.Millisecond, Logger: logger, Version: "test",
		Observer: metrics, MetricsHandler: metrics.Handler(),
	})
	srv := httptest.NewServer(handler)
	ts.URL, ts.client = srv.URL, srv.Client()
	t.Cleanup(func() {
		srv.Close()
		svc.Close()
		ts.checkLogs(t)
	})
	return ts
}

// response is an answer, read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string { return fmt.Sprintf("HTTP %d %s", r.Status, r.Body) }

// do sends one request. body is sent as is when it is a string or []byte
// (as JSON unless headers say otherwise), marshalled to JSON otherwise,
// and omitted when nil. headers are name/value pairs; an empty value
// removes the header. Every answer is checked against the rules that hold
// for all of them (checkResponse) before it is returned.
func (ts *testServer) do(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		// Hidden behind MultiReader, the length is unknown to net/http, so
		// the body goes out chunked (a *strings.Reader would not).
		rd = io.MultiReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Add(headers[i], headers[i+1])
		}
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	r := response{Status: res.StatusCode, Header: res.Header, Body: b}
	checkResponse(t, method, path, r)
	checkAgainstOpenAPI(t, req, r)
	ts.rememberTokens(r)
	return r
}

// checkResponse holds for every answer of the API, whatever the route.
func checkResponse(t *testing.T, method, path string, r response) {
	t.Helper()
	id := r.Header.Get("X-Request-ID")
	if id == "" {
		t.Errorf("%s %s: no X-Request-ID", method, path)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: no X-Content-Type-Options: nosniff", method, path)
	}
	if r.Status < 400 || method == http.MethodHead {
		return
	}
	if path == "/readyz" {
		// Its 503 is a status report naming the failed checks, not an error.
		if ct := r.Header.Get("Content-Type"); r.Status != http.StatusServiceUnavailable || ct != "application/json" {
			t.Errorf("GET /readyz: HTTP %d %q", r.Status, ct)
		}
		return
	}
	p := decodeProblem(t, r)
	if p.RequestID != id {
		t.Errorf("%s %s: problem request_id %q, header %q", method, path, p.RequestID, id)
	}
	// A wrong current password is the one 401 without a challenge (see
	// adapters/rest/errors.go); every other one carries it.
	if r.Status == http.StatusUnauthorized && p.Type != "urn:authd:problem:wrong-password" &&
		!strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("%s %s: 401 without a Bearer challenge: %v", method, path, r.Header)
	}
	if p.Type == "urn:authd:problem:wrong-password" && r.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("%s %s: a wrong current password answered with a challenge", method, path)
	}
	if (r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable) && r.Header.Get("Retry-After") == "" {
		t.Errorf("%s %s: %d without Retry-After", method, path, r.Status)
	}
	for _, leak := range []string{"goroutine ", "panic", ".go:", "sql", "SQL", "pq:", "runtime error"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("%s %s: internal text %q in the answer: %s", method, path, leak, r.Body)
		}
	}
}

// problem is an RFC 9457 problem document as this API writes it.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeProblem(t *testing.T, r response) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error answer with Content-Type %q: %s", ct, r)
	}
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem document: %v: %s", err, r)
	}
	if p.Type == "" || p.Title == "" || p.Detail == "" || p.Status != r.Status {
		t.Fatalf("incomplete problem document: %s", r)
	}
	return p
}

func (r response) problem(t *testing.T) problem {
	t.Helper()
	return decodeProblem(t, r)
}

// decode unmarshals the body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q: %s", ct, r)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
}

// want fails the test unless the answer has status.
func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want HTTP %d", r, status)
	}
	return r
}

// fields lists the problem's fields as "field: message" lines.
func (p problem) fields() []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field + ": " + e.Message
	}
	return out
}

// user is the user object of API.md.
type user struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Email     string  `json:"email"`
	IsActive  bool    `json:"is_active"`
	Role      string  `json:"role"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	Profile   profile `json:"profile"`
}

type profile struct {
	FirstName   *string `json:"first_name"`
	LastName    *string `json:"last_name"`
	PhoneNumber *string `json:"phone_number"`
	Address     *string `json:"address"`
}

// tokens is what login and refresh answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// register creates an account and returns it.
func (ts *testServer) register(t *testing.T, name, email, password string) user {
	t.Helper()
	ts.secret(password, email)
	var u user
	ts.do(t, "POST", "/auth/register", map[string]string{"name": name, "email": email, "password": password}).
		want(t, http.StatusCreated).decode(t, &u)
	return u
}

// login returns a fresh token pair.
func (ts *testServer) login(t *testing.T, email, password string) tokens {
	t.Helper()
	ts.secret(password, email)
	var tk tokens
	ts.do(t, "POST", "/auth/login", map[string]string{"email": email, "password": password}).
		want(t, http.StatusOK).decode(t, &tk)
	return tk
}

// refresh exchanges a refresh token; the caller checks the status.
func (ts *testServer) refresh(t *testing.T, refreshToken string) response {
	t.Helper()
	return ts.do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": refreshToken})
}

// me asks GET /auth/me with the access token.
func (ts *testServer) me(t *testing.T, access string) response {
	t.Helper()
	return ts.do(t, "GET", "/auth/me", nil, "Authorization", "Bearer "+access)
}

// account registers and logs in a user, returning both.
func (ts *testServer) account(t *testing.T, email string) (user, tokens) {
	t.Helper()
	const pw = "correct horse battery"
	u := ts.register(t, "Ada Lovelace", email, pw)
	return u, ts.login(t, email, pw)
}

// secret records strings that must not appear in the log.
func (ts *testServer) secret(s ...string) {
	ts.secretsMu.Lock()
	defer ts.secretsMu.Unlock()
	for _, v := range s {
		if v != "" {
			ts.secrets = append(ts.secrets, v, strings.ToLower(strings.TrimSpace(v)))
		}
	}
}

func (ts *testServer) rememberTokens(r response) {
	var tk tokens
	if r.Status == http.StatusOK && json.Unmarshal(r.Body, &tk) == nil {
		ts.secret(tk.AccessToken, tk.RefreshToken)
	}
}

// checkLogs fails the test if a password, token or full email was logged.
func (ts *testServer) checkLogs(t *testing.T) {
	t.Helper()
	logs := ts.logs.String()
	ts.secretsMu.Lock()
	defer ts.secretsMu.Unlock()
	for _, s := range ts.secrets {
		if len(s) >= 6 && strings.Contains(logs, s) { // short ones are test inputs like "A"
			t.Errorf("the log contains a secret (%.4s…):\n%s", s, logs)
		}
	}
}

// logBuffer collects JSON log lines from concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the logged records whose message is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}
