package rest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

// observed is one ObserveRequest call.
type observed struct {
	method, route string
	status        int
	d             time.Duration
}

// recorder is a RequestObserver that keeps every call.
type recorder struct {
	mu    sync.Mutex
	calls []observed
}

func (r *recorder) ObserveRequest(method, route string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, observed{method, route, status, d})
}

func (r *recorder) take() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// rolesStub authenticates "user" and "admin" bearers; everything else is
// left to the test.
func rolesStub() *stubApp {
	return &stubApp{AuthenticateFn: func(_ context.Context, bearer string) (app.Principal, error) {
		switch bearer {
		case "admin":
			return app.Principal{User: domain.User{ID: "u-admin", Role: domain.RoleAdmin}}, nil
		case "user":
			return app.Principal{User: domain.User{ID: "u-user", Role: domain.RoleUser}}, nil
		}
		return app.Principal{}, domain.ErrUnauthenticated
	}}
}

// The observer gets the route template, never the raw path, and the status
// that was sent, errors and panics included, once per request.
func TestObserverSeesRouteTemplateAndStatusSent(t *testing.T) {
	stub := rolesStub()
	stub.UserFn = func(context.Context, app.Principal, domain.UserID) (domain.User, error) {
		return domain.User{}, domain.ErrNotFound
	}
	stub.RegisterFn = func(context.Context, app.RegisterInput) (domain.User, error) { panic("bug") }
	obs := &recorder{}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "up 1\n")
	})
	s, _ := newServer(t, Options{App: stub, Observer: obs, MetricsHandler: metrics})

	register := `{"name":"Ada","email":"ada@example.com","password":"12345678"}`
	tests := []struct {
		method, path, body string
		header             []string
		route              string
		status             int
	}{
		{"GET", "/auth/me", "", []string{"Authorization", "Bearer user"}, "/auth/me", 200},
		{"GET", "/auth/me", "", nil, "/auth/me", 401},
		{"GET", "/admin/users/7f3a", "", []string{"Authorization", "Bearer admin"}, "/admin/users/:id", 404},
		{"GET", "/admin/users/7f3a", "", []string{"Authorization", "Bearer user"}, "/admin/users/:id", 403},
		{"GET", "/admin/no/such/thing", "", nil, RouteUnmatched, 401},
		{"GET", "/no/such/thing", "", nil, RouteUnmatched, 404},
		{"POST", "/auth/nope", "{}", nil, RouteUnmatched, 404},
		{"DELETE", "/auth/me", "", nil, "/auth/me", 405},
		{"POST", "/auth/register", register, nil, "/auth/register", 500},
		{"POST", "/auth/register", "{" + strings.Repeat(" ", maxBody) + "}", nil, "/auth/register", 413},
		{"GET", "/healthz", "", nil, "/healthz", 200},
		{"GET", "/metrics", "", nil, "/metrics", 200},
	}
	for _, tt := range tests {
		w := call(s, tt.method, tt.path, tt.body, tt.header...)
		got := obs.take()
		if w.Code != tt.status {
			t.Errorf("%s %s: HTTP %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
		if len(got) != 1 {
			t.Errorf("%s %s: observed %d times: %v", tt.method, tt.path, len(got), got)
			continue
		}
		if o := got[0]; o.method != tt.method || o.route != tt.route || o.status != w.Code || o.d < 0 {
			t.Errorf("%s %s: observed %+v, want route %q status %d", tt.method, tt.path, o, tt.route, w.Code)
		}
	}
}

func TestMetricsRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "up 1\n")
	})
	s, _ := newServer(t, Options{MetricsHandler: metrics})
	w := call(s, "GET", "/metrics", "")
	if w.Code != 200 || w.Body.String() != "up 1\n" || w.Header().Get(HeaderRequestID) == "" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("HTTP %d %v %q", w.Code, w.Header(), w.Body)
	}
	// Without a handler there is no such route.
	s, _ = newServer(t, Options{})
	if w := call(s, "GET", "/metrics", ""); w.Code != http.StatusNotFound {
		t.Errorf("no MetricsHandler: HTTP %d", w.Code)
	}
}

// One line per request with what an operator needs to follow it, and
// nothing a secret could hide in: no body, no header, no token, no full
// email.
func TestAccessLog(t *testing.T) {
	const (
		password = "Tr0ub4dor&3-secret"
		access   = "eyJhbGciOi.access.token-secret"
		refresh  = "refresh-token-secret-0123456789"
		email    = "Ada.Lovelace@Example.com"
	)
	stub := rolesStub()
	stub.LoginFn = func(context.Context, app.LoginInput) (app.Tokens, error) {
		return app.Tokens{Access: access, Refresh: refresh, ExpiresIn: time.Minute}, nil
	}
	stub.RegisterFn = func(context.Context, app.RegisterInput) (domain.User, error) {
		return domain.User{ID: "u-new", Email: "ada.lovelace@example.com"}, nil
	}
	s, logs := newServer(t, Options{App: stub})
	body := `{"name":"Ada Lovelace","email":"` + email + `","password":"` + password + `"}`

	call(s, "POST", "/auth/register", body, HeaderRequestID, "req-register")
	call(s, "POST", "/auth/login", body, HeaderRequestID, "req-login", "X-Forwarded-For", "203.0.113.9")
	call(s, "POST", "/auth/login", `{"email":"not an address","password":"`+password+`"}`, HeaderRequestID, "req-bad")
	call(s, "GET", "/auth/me", "", HeaderRequestID, "req-me", "Authorization", "Bearer user")
	call(s, "POST", "/auth/refresh", `{"refresh_token":"`+refresh+`"}`, HeaderRequestID, "req-refresh") // stub: 500
	call(s, "GET", "/healthz", "", HeaderRequestID, "req-health")
	call(s, "GET", "/nowhere/"+access, "", HeaderRequestID, "req-404")

	lines := logs.accessLines(t)
	want := []struct {
		id, route, level string
		status           float64
		email, user      any
	}{
		{"req-register", "/auth/register", "INFO", 201, "a***@example.com", nil},
		// The client address is the peer: no proxy is trusted here.
		{"req-login", "/auth/login", "INFO", 200, "a***@example.com", nil},
		{"req-bad", "/auth/login", "INFO", 200, nil, nil},
		{"req-me", "/auth/me", "INFO", 200, nil, "u-user"},
		{"req-refresh", "/auth/refresh", "INFO", 500, nil, nil},
		{"req-health", "/healthz", "DEBUG", 200, nil, nil},
		{"req-404", RouteUnmatched, "INFO", 404, nil, nil},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d access lines, want %d:\n%s", len(lines), len(want), logs)
	}
	for i, w := range want {
		l := lines[i]
		if l["request_id"] != w.id || l["route"] != w.route || l["level"] != w.level || l["status"] != w.status ||
			l["email"] != w.email || l["user_id"] != w.user || l["client"] != "192.0.2.1" {
			t.Errorf("line %d: %v\nwant %+v", i, l, w)
		}
		if ms, ok := l["duration_ms"].(float64); !ok || ms < 0 {
			t.Errorf("line %d: duration_ms %v", i, l["duration_ms"])
		}
		if m, ok := l["method"].(string); !ok || m == "" {
			t.Errorf("line %d: method %v", i, l["method"])
		}
	}
	all := logs.String()
	for _, secret := range []string{password, access, refresh, email, strings.ToLower(email), "Bearer", "not an address"} {
		if strings.Contains(all, secret) {
			t.Errorf("the log contains %q:\n%s", secret, all)
		}
	}
}

// At the default level probes and scrapes leave no line at all.
func TestAccessLogQuietProbes(t *testing.T) {
	logs := &logBuffer{}
	s, _ := newServer(t, Options{
		Logger:         slog.New(slog.NewJSONHandler(logs, nil)), // info
		MetricsHandler: http.NotFoundHandler(),
	})
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		call(s, "GET", p, "")
	}
	lines := logs.accessLines(t)
	if len(lines) != 1 || lines[0]["route"] != "/openapi.json" {
		t.Errorf("access lines: %v", lines)
	}
}

// BenchmarkObserve measures what observe adds to a request: "quiet" is the
// middleware with no observer and a logger that drops everything (its floor:
// two clock reads and the route lookup); "logged" writes the JSON line (to
// io.Discard) and calls an observer, as a production server does.
func BenchmarkObserve(b *testing.B) {
	next := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	for _, bc := range []struct {
		name string
		o    Options
	}{
		{"quiet", Options{Logger: slog.New(slog.DiscardHandler)}},
		{"logged", Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Observer: nopObserver{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.o.App = &stubApp{}
			s := NewServer(bc.o)
			h := s.observe(next)
			req := httptest.NewRequest("GET", "/auth/me", nil)
			req = req.WithContext(withRequestID(req.Context(), "0123456789abcdef0123456789abcdef"))
			w := httptest.NewRecorder()
			c := s.echo.NewContext(req, w)
			b.ReportAllocs()
			for b.Loop() {
				c.Reset(req, w)
				c.SetPath("/auth/me")
				if err := h(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, string, int, time.Duration) {}
