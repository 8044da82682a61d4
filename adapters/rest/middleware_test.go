package rest

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

func TestRequestID(t *testing.T) {
	long := strings.Repeat("a", 128)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"none", "", false},
		{"sane", "abc-DEF_012.x", true},
		{"128 characters", long, true},
		{"129 characters", long + "b", false},
		{"space", "abc def", false},
		{"markup", "<script>", false},
		{"log injection", "abc\nlevel=ERROR", false},
		{"non-ASCII", "ídé", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/healthz", "/nowhere"} {
			t.Run(tt.name+path, func(t *testing.T) {
				s, _ := newServer(t, Options{})
				w := call(s, http.MethodGet, path, "", HeaderRequestID, tt.sent)
				got := w.Header().Get(HeaderRequestID)
				if tt.echoed {
					if got != tt.sent {
						t.Fatalf("X-Request-ID %q, want the client's %q", got, tt.sent)
					}
					return
				}
				if b, err := hex.DecodeString(got); err != nil || len(b) != 16 {
					t.Fatalf("X-Request-ID %q is not a fresh id", got)
				}
			})
		}
	}

	s, _ := newServer(t, Options{})
	if a, b := call(s, "GET", "/healthz", "").Header().Get(HeaderRequestID), call(s, "GET", "/healthz", "").Header().Get(HeaderRequestID); a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}

// The id reaches the use case's context, so app's log lines can carry it.
func TestRequestIDInContext(t *testing.T) {
	var seen string
	stub := &stubApp{RegisterFn: func(ctx context.Context, _ app.RegisterInput) (domain.User, error) {
		seen = RequestID(ctx)
		return domain.User{}, domain.ErrEmailTaken
	}}
	s, _ := newServer(t, Options{App: stub})
	call(s, "POST", "/auth/register", `{"name":"Ada","email":"a@b.co","password":"12345678"}`, HeaderRequestID, "trace-1")
	if seen != "trace-1" {
		t.Errorf("request id in the use case's context = %q", seen)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s, _ := newServer(t, Options{})
	for _, path := range []string{"/healthz", "/nowhere", "/users/me"} {
		w := call(s, "GET", path, "")
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, w.Header())
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		ok     bool
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"lower-case scheme", []string{"bearer abc"}, "abc", true},
		{"upper-case scheme", []string{"BEARER abc"}, "abc", true},
		{"extra spaces", []string{"  Bearer   abc  "}, "abc", true},
		{"missing", nil, "", false},
		{"empty", []string{""}, "", false},
		{"scheme only", []string{"Bearer"}, "", false},
		{"scheme and space", []string{"Bearer "}, "", false},
		{"basic", []string{"Basic YWRhOnB3"}, "", false},
		{"two words", []string{"Bearer abc def"}, "", false},
		{"tab inside", []string{"Bearer abc\tdef"}, "", false},
		{"no space", []string{"Bearerabc"}, "", false},
		{"two headers", []string{"Bearer abc", "Bearer def"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			got, ok := bearerToken(h)
			if got != tt.want || ok != tt.ok {
				t.Errorf("bearerToken = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRequireBearer(t *testing.T) {
	user := domain.User{ID: "u1", Name: "Ada", Email: "ada@example.com", IsActive: true, Role: domain.RoleUser}
	var presented []string
	stub := &stubApp{AuthenticateFn: func(_ context.Context, token string) (app.Principal, error) {
		presented = append(presented, token)
		switch token {
		case "good":
			return app.Principal{User: user}, nil
		case "inactive":
			return app.Principal{}, domain.ErrAccountInactive
		case "broken-store":
			return app.Principal{}, errors.New("authenticate: connection refused")
		}
		return app.Principal{}, domain.ErrUnauthenticated
	}}
	s, _ := newServer(t, Options{App: stub})
	tests := []struct {
		name, header  string
		wantStatus    int
		wantChallenge string
	}{
		{"good", "Bearer good", 200, ""},
		{"missing", "", 401, "Bearer"},
		{"basic", "Basic Z29vZA==", 401, "Bearer"},
		{"rejected", "Bearer forged", 401, `Bearer error="invalid_token"`},
		{"inactive", "Bearer inactive", 403, ""},
		{"store down", "Bearer broken-store", 500, ""},
	}
	for _, tt := range tests {
		for _, path := range []string{"/auth/me", "/users/me"} {
			t.Run(tt.name+path, func(t *testing.T) {
				w := call(s, "GET", path, "", "Authorization", tt.header)
				if w.Code != tt.wantStatus {
					t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantChallenge)
				}
				if w.Code != 200 {
					decodeProblem(t, w)
				}
			})
		}
	}
	for _, tok := range presented {
		if tok == "" || strings.HasPrefix(tok, "Z29") {
			t.Errorf("Authenticate was called with %q", tok)
		}
	}
}

func TestRecoverPanic(t *testing.T) {
	stub := &stubApp{RegisterFn: func(context.Context, app.RegisterInput) (domain.User, error) {
		panic("secret internal state")
	}}
	s, logs := newServer(t, Options{App: stub})
	w := call(s, "POST", "/auth/register", `{"name":"Ada","email":"a@b.co","password":"12345678"}`)
	if w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	p := decodeProblem(t, w)
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "goroutine") {
		t.Errorf("panic leaked: %s", w.Body)
	}
	if !strings.Contains(p.Detail, p.RequestID) {
		t.Errorf("detail %q lacks the request id", p.Detail)
	}
	recs := logs.records(t)
	if len(recs) != 1 || !strings.Contains(recs[0]["err"].(string), "secret internal state") ||
		!strings.Contains(recs[0]["stack"].(string), "goroutine") || recs[0]["request_id"] != p.RequestID {
		t.Errorf("log: %s", logs)
	}
}

// http.ErrAbortHandler is net/http's deliberate abort; it must reach net/http.
func TestRecoverPanicLetsAbortThrough(t *testing.T) {
	stub := &stubApp{RegisterFn: func(context.Context, app.RegisterInput) (domain.User, error) {
		panic(http.ErrAbortHandler)
	}}
	s, _ := newServer(t, Options{App: stub})
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	call(s, "POST", "/auth/register", `{"name":"Ada","email":"a@b.co","password":"12345678"}`)
}

func TestLimitIP(t *testing.T) {
	var count int64
	lim := &fakeLimiter{HitFn: func(string) (ports.Window, error) {
		count++
		return ports.Window{Count: count, ResetIn: 41500 * time.Millisecond}, nil
	}}
	stub := &stubApp{RefreshFn: func(context.Context, string) (app.Tokens, error) { return app.Tokens{}, domain.ErrUnauthenticated }}
	s, _ := newServer(t, Options{App: stub, Limiter: lim, IPRatePerMinute: 3})

	for i := 1; i <= 3; i++ {
		if w := call(s, "POST", "/auth/refresh", `{"refresh_token":"x"}`); w.Code != 401 {
			t.Fatalf("request %d: status %d", i, w.Code)
		}
	}
	w := call(s, "POST", "/auth/refresh", `{"refresh_token":"x"}`)
	if w.Code != 429 || w.Header().Get("Retry-After") != "42" {
		t.Fatalf("4th request: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	decodeProblem(t, w)
	// Unknown paths under /auth/ count too; other paths are not counted.
	if w := call(s, "GET", "/auth/nowhere", ""); w.Code != 429 {
		t.Errorf("/auth/nowhere: %d", w.Code)
	}
	before := len(lim.hits())
	for _, path := range []string{"/healthz", "/readyz", "/authx", "/users/me"} {
		if w := call(s, "GET", path, ""); w.Code == 429 {
			t.Errorf("%s was rate limited", path)
		}
	}
	if after := len(lim.hits()); after != before {
		t.Errorf("paths outside /auth/ were counted: %v", lim.hits()[before:])
	}
	for _, key := range lim.hits() {
		if key != "ip:192.0.2.1" { // httptest.NewRequest's peer
			t.Errorf("limiter key %q", key)
		}
	}
}

func TestLimitIPUsesTrustedClientAddress(t *testing.T) {
	lim := &fakeLimiter{HitFn: func(string) (ports.Window, error) { return ports.Window{Count: 1}, nil }}
	s, _ := newServer(t, Options{Limiter: lim, IPRatePerMinute: 10,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	call(s, "GET", "/auth/me", "", "X-Forwarded-For", "6.6.6.6, 2001:db8:1:2::77")
	if got := lim.hits(); len(got) != 1 || got[0] != "ip:2001:db8:1:2::/64" {
		t.Errorf("limiter keys %v", got)
	}
}

func TestLimitIPFailsOpen(t *testing.T) {
	lim := &fakeLimiter{HitFn: func(string) (ports.Window, error) {
		return ports.Window{}, errors.New("redis: i/o timeout")
	}}
	stub := &stubApp{RefreshFn: func(context.Context, string) (app.Tokens, error) {
		return app.Tokens{Access: "a", Refresh: "r", ExpiresIn: time.Minute}, nil
	}}
	s, logs := newServer(t, Options{App: stub, Limiter: lim, IPRatePerMinute: 1})
	for range 3 {
		if w := call(s, "POST", "/auth/refresh", `{"refresh_token":"x"}`); w.Code != 200 {
			t.Fatalf("status %d with a failing limiter", w.Code)
		}
	}
	recs := logs.records(t)
	if len(recs) != 3 || recs[0]["level"] != "WARN" || recs[0]["request_id"] == nil {
		t.Errorf("log: %s", logs)
	}
}

func TestLimitIPOff(t *testing.T) {
	lim := &fakeLimiter{HitFn: func(string) (ports.Window, error) { return ports.Window{Count: 1 << 40}, nil }}
	s, _ := newServer(t, Options{Limiter: lim, IPRatePerMinute: 0})
	if w := call(s, "GET", "/auth/me", ""); w.Code != 401 {
		t.Errorf("status %d", w.Code)
	}
	if len(lim.hits()) != 0 {
		t.Errorf("limiter called while off: %v", lim.hits())
	}
}

func TestNewServerRefusesBadWiring(t *testing.T) {
	for name, o := range map[string]Options{
		"no app":     {},
		"no limiter": {App: &stubApp{}, IPRatePerMinute: 5},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewServer accepted it")
				}
			}()
			NewServer(o)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s, _ := newServer(t, Options{})
	w := call(s, "GET", "/auth/login", "")
	if w.Code != 405 || !strings.Contains(w.Header().Get("Allow"), "POST") {
		t.Fatalf("status %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	decodeProblem(t, w)
}

// Wrapping twice (cmd wraps, then NewServer wraps again) must not print
// request_id twice; records outside a request get none.
func TestLogHandler(t *testing.T) {
	var buf strings.Builder
	log := slog.New(LogHandler(LogHandler(slog.NewTextHandler(&buf, nil)))).With("k", "v").WithGroup("g")
	log.InfoContext(withRequestID(context.Background(), "rid-1"), "in a request", "a", 1)
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || strings.Count(lines[0], "rid-1") != 1 || strings.Contains(lines[1], "request_id") {
		t.Errorf("log:\n%s", buf.String())
	}
}
