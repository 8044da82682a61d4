package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// stubApp is App with a func field per method; an unset one fails the call
// with an error the mapper turns into a 500, which the test then sees.
type stubApp struct {
	RegisterFn     func(context.Context, app.RegisterInput) (domain.User, error)
	LoginFn        func(context.Context, app.LoginInput) (app.Tokens, error)
	RefreshFn      func(context.Context, string) (app.Tokens, error)
	LogoutFn       func(context.Context, app.Principal) error
	AuthenticateFn func(context.Context, string) (app.Principal, error)

	UpdateProfileFn  func(context.Context, app.Principal, app.ProfileUpdate) (domain.User, error)
	ChangePasswordFn func(ctx context.Context, p app.Principal, current, next string) error
	ListSessionsFn   func(context.Context, app.Principal) ([]domain.Session, error)
	RevokeSessionFn  func(context.Context, app.Principal, domain.SessionID) error
	ListUsersFn      func(context.Context, app.Principal, ports.UserQuery) (app.UserPage, error)
	UserFn           func(context.Context, app.Principal, domain.UserID) (domain.User, error)
	UpdateUserFn     func(context.Context, app.Principal, domain.UserID, app.AdminUpdate) (domain.User, error)
	DeleteUserFn     func(context.Context, app.Principal, domain.UserID) error
}

var errUnexpectedCall = errors.New("stub: unexpected call")

func (s *stubApp) Register(ctx context.Context, in app.RegisterInput) (domain.User, error) {
	if s.RegisterFn == nil {
		return domain.User{}, errUnexpectedCall
	}
	return s.RegisterFn(ctx, in)
}

func (s *stubApp) Login(ctx context.Context, in app.LoginInput) (app.Tokens, error) {
	if s.LoginFn == nil {
		return app.Tokens{}, errUnexpectedCall
	}
	return s.LoginFn(ctx, in)
}

func (s *stubApp) Refresh(ctx context.Context, token string) (app.Tokens, error) {
	if s.RefreshFn == nil {
		return app.Tokens{}, errUnexpectedCall
	}
	return s.RefreshFn(ctx, token)
}

func (s *stubApp) Logout(ctx context.Context, p app.Principal) error {
	if s.LogoutFn == nil {
		return errUnexpectedCall
	}
	return s.LogoutFn(ctx, p)
}

func (s *stubApp) Authenticate(ctx context.Context, bearer string) (app.Principal, error) {
	if s.AuthenticateFn == nil {
		return app.Principal{}, errUnexpectedCall
	}
	return s.AuthenticateFn(ctx, bearer)
}

func (s *stubApp) UpdateProfile(ctx context.Context, p app.Principal, in app.ProfileUpdate) (domain.User, error) {
	if s.UpdateProfileFn == nil {
		return domain.User{}, errUnexpectedCall
	}
	return s.UpdateProfileFn(ctx, p, in)
}

func (s *stubApp) ChangePassword(ctx context.Context, p app.Principal, current, next string) error {
	if s.ChangePasswordFn == nil {
		return errUnexpectedCall
	}
	return s.ChangePasswordFn(ctx, p, current, next)
}

func (s *stubApp) ListSessions(ctx context.Context, p app.Principal) ([]domain.Session, error) {
	if s.ListSessionsFn == nil {
		return nil, errUnexpectedCall
	}
	return s.ListSessionsFn(ctx, p)
}

func (s *stubApp) RevokeSession(ctx context.Context, p app.Principal, id domain.SessionID) error {
	if s.RevokeSessionFn == nil {
		return errUnexpectedCall
	}
	return s.RevokeSessionFn(ctx, p, id)
}

func (s *stubApp) ListUsers(ctx context.Context, p app.Principal, q ports.UserQuery) (app.UserPage, error) {
	if s.ListUsersFn == nil {
		return app.UserPage{}, errUnexpectedCall
	}
	return s.ListUsersFn(ctx, p, q)
}

func (s *stubApp) User(ctx context.Context, p app.Principal, id domain.UserID) (domain.User, error) {
	if s.UserFn == nil {
		return domain.User{}, errUnexpectedCall
	}
	return s.UserFn(ctx, p, id)
}

func (s *stubApp) UpdateUser(ctx context.Context, p app.Principal, id domain.UserID, in app.AdminUpdate) (domain.User, error) {
	if s.UpdateUserFn == nil {
		return domain.User{}, errUnexpectedCall
	}
	return s.UpdateUserFn(ctx, p, id, in)
}

func (s *stubApp) DeleteUser(ctx context.Context, p app.Principal, id domain.UserID) error {
	if s.DeleteUserFn == nil {
		return errUnexpectedCall
	}
	return s.DeleteUserFn(ctx, p, id)
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

// records returns every logged record but the access-log lines (message
// "request", one per request: see accessLines), decoded.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range b.all(t) {
		if rec["msg"] != "request" {
			out = append(out, rec)
		}
	}
	return out
}

// accessLines returns the access-log lines, decoded.
func (b *logBuffer) accessLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range b.all(t) {
		if rec["msg"] == "request" {
			out = append(out, rec)
		}
	}
	return out
}

func (b *logBuffer) all(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("log is not JSON lines: %v", err)
		}
		out = append(out, rec)
	}
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newServer builds a Server around o, filling in a stub App and a logger
// writing to the returned buffer when o has none.
func newServer(t *testing.T, o Options) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if o.App == nil {
		o.App = &stubApp{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return NewServer(o), logs
}

// call serves one request and returns the recorded answer.
func call(s http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

// decodeProblem checks the problem-document basics and returns it.
func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != problemContentType {
		t.Fatalf("Content-Type = %q, want %q; body %s", ct, problemContentType, w.Body)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body, err)
	}
	if p.Status != w.Code || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("incomplete problem (HTTP %d): %s", w.Code, w.Body)
	}
	if p.RequestID == "" || p.RequestID != w.Header().Get(HeaderRequestID) {
		t.Fatalf("problem request_id %q, header %q", p.RequestID, w.Header().Get(HeaderRequestID))
	}
	return p
}

// fakeLimiter is a ports.RateLimiter whose Hit is scripted.
type fakeLimiter struct {
	mu    sync.Mutex
	keys  []string
	HitFn func(key string) (ports.Window, error)
}

func (l *fakeLimiter) Hit(_ context.Context, key string, window time.Duration) (ports.Window, error) {
	l.mu.Lock()
	l.keys = append(l.keys, key)
	l.mu.Unlock()
	if window != time.Minute {
		return ports.Window{}, errors.New("fakeLimiter: unexpected window " + window.String())
	}
	return l.HitFn(key)
}

func (l *fakeLimiter) Peek(context.Context, string) (ports.Window, error) {
	return ports.Window{}, errors.New("fakeLimiter: Peek not expected")
}

func (l *fakeLimiter) Undo(context.Context, string) error {
	return errors.New("fakeLimiter: Undo not expected")
}

func (l *fakeLimiter) hits() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.keys...)
}
