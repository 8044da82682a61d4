package rest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/domain"
)

func TestHandleError(t *testing.T) {
	const secret = "pq: relation users does not exist at 10.1.2.3"
	ve := &domain.ValidationError{}
	ve.Add("email", "must be a valid email address")
	ve.Add("profile.phone_number", "must be at most 20 characters")

	tests := []struct {
		name          string
		err           error
		wantStatus    int
		wantType      string
		wantDetail    string // exact, when set
		wantChallenge string // WWW-Authenticate
		wantRetry     string // Retry-After
		wantErrors    []fieldProblem
		internal      bool
	}{
		{name: "validation", err: ve, wantStatus: 422, wantType: "urn:authd:problem:validation",
			wantErrors: []fieldProblem{{"email", "must be a valid email address"}, {"profile.phone_number", "must be at most 20 characters"}}},
		{name: "wrapped validation", err: fmt.Errorf("register: %w", ve), wantStatus: 422, wantType: "urn:authd:problem:validation",
			wantErrors: []fieldProblem{{"email", "must be a valid email address"}, {"profile.phone_number", "must be at most 20 characters"}}},
		{name: "not found", err: domain.ErrNotFound, wantStatus: 404, wantType: "about:blank"},
		{name: "wrapped not found", err: fmt.Errorf("load: %w", domain.ErrNotFound), wantStatus: 404, wantType: "about:blank"},
		{name: "email taken", err: fmt.Errorf("register: %w", domain.ErrEmailTaken), wantStatus: 409, wantType: "urn:authd:problem:email-taken"},
		{name: "invalid credentials", err: domain.ErrInvalidCredentials, wantStatus: 401, wantType: "urn:authd:problem:invalid-credentials",
			wantDetail: "Invalid email or password", wantChallenge: "Bearer"},
		{name: "unauthenticated, no token", err: domain.ErrUnauthenticated, wantStatus: 401, wantType: "urn:authd:problem:unauthenticated",
			wantChallenge: "Bearer"},
		{name: "unauthenticated, token presented", err: &tokenRejected{domain.ErrUnauthenticated}, wantStatus: 401,
			wantType: "urn:authd:problem:unauthenticated", wantChallenge: `Bearer error="invalid_token"`},
		// The token was fine, so no challenge (see handleError).
		{name: "wrong current password", err: fmt.Errorf("change password: %w", domain.ErrWrongPassword), wantStatus: 401,
			wantType: "urn:authd:problem:wrong-password", wantDetail: "Current password is incorrect"},
		{name: "inactive with a good token", err: &tokenRejected{domain.ErrAccountInactive}, wantStatus: 403, wantType: "urn:authd:problem:account-inactive"},
		{name: "inactive", err: domain.ErrAccountInactive, wantStatus: 403, wantType: "urn:authd:problem:account-inactive"},
		{name: "forbidden", err: domain.ErrForbidden, wantStatus: 403, wantType: "urn:authd:problem:forbidden"},
		{name: "rate limited, rounded up", err: &domain.RetryError{Err: domain.ErrRateLimited, RetryAfter: 1500 * time.Millisecond},
			wantStatus: 429, wantType: "about:blank", wantRetry: "2"},
		{name: "rate limited, at least a second", err: &domain.RetryError{Err: domain.ErrRateLimited, RetryAfter: 10 * time.Millisecond},
			wantStatus: 429, wantType: "about:blank", wantRetry: "1"},
		{name: "rate limited, wrapped", err: fmt.Errorf("login: %w", &domain.RetryError{Err: domain.ErrRateLimited, RetryAfter: 42 * time.Second}),
			wantStatus: 429, wantType: "about:blank", wantRetry: "42"},
		{name: "overloaded", err: fmt.Errorf("login: %w", &domain.RetryError{Err: domain.ErrOverloaded, RetryAfter: 3 * time.Second}),
			wantStatus: 503, wantType: "about:blank", wantRetry: "3"},
		{name: "overloaded without a wait", err: domain.ErrOverloaded, wantStatus: 503, wantType: "about:blank", wantRetry: "1"},
		{name: "router 404", err: echo.ErrNotFound, wantStatus: 404, wantType: "about:blank"},
		{name: "router 405", err: echo.ErrMethodNotAllowed, wantStatus: 405, wantType: "about:blank"},
		{name: "body limit", err: errBodyTooLarge, wantStatus: 413, wantType: "about:blank"},
		{name: "body cap hit elsewhere", err: fmt.Errorf("read: %w", &http.MaxBytesError{Limit: maxBody}), wantStatus: 413, wantType: "about:blank"},
		{name: "echo error with a non-string message", err: echo.NewHTTPError(http.StatusBadRequest, struct{ X int }{1}),
			wantStatus: 400, wantType: "about:blank", wantDetail: "Bad Request"},
		{name: "bare error", err: errors.New(secret), wantStatus: 500, wantType: "about:blank", internal: true},
		{name: "wrapped bare error", err: fmt.Errorf("register: %w", errors.New(secret)), wantStatus: 500, wantType: "about:blank", internal: true},
		{name: "echo 5xx", err: echo.NewHTTPError(http.StatusBadGateway, secret), wantStatus: 500, wantType: "about:blank", internal: true},
		{name: "echo error hiding an internal one", err: echo.NewHTTPError(http.StatusBadRequest).SetInternal(errors.New(secret)),
			wantStatus: 400, wantType: "about:blank", wantDetail: "Bad Request"},
		{name: "panic", err: &panicError{value: secret, stack: []byte("goroutine 1")}, wantStatus: 500, wantType: "about:blank", internal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newServer(t, Options{})
			req := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
			req = req.WithContext(withRequestID(req.Context(), "req-123"))
			req.Header.Set(HeaderRequestID, "req-123")
			w := httptest.NewRecorder()
			w.Header().Set(HeaderRequestID, "req-123")
			c := s.echo.NewContext(req, w)
			c.SetPath("/auth/login")

			s.handleError(tt.err, c)

			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			p := decodeProblem(t, w)
			if p.Type != tt.wantType {
				t.Errorf("type %q, want %q", p.Type, tt.wantType)
			}
			if tt.wantDetail != "" && p.Detail != tt.wantDetail {
				t.Errorf("detail %q, want %q", p.Detail, tt.wantDetail)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantChallenge)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
			if fmt.Sprint(p.Errors) != fmt.Sprint(tt.wantErrors) {
				t.Errorf("errors %v, want %v", p.Errors, tt.wantErrors)
			}
			if strings.Contains(w.Body.String(), "pq:") || strings.Contains(w.Body.String(), "goroutine") {
				t.Errorf("internal text in the answer: %s", w.Body)
			}

			recs := logs.records(t)
			if !tt.internal {
				if len(recs) != 0 {
					t.Errorf("logged %d records for a client error: %s", len(recs), logs)
				}
				return
			}
			if !strings.Contains(p.Detail, "req-123") {
				t.Errorf("5xx detail %q does not carry the request id", p.Detail)
			}
			if len(recs) != 1 {
				t.Fatalf("logged %d records, want exactly one: %s", len(recs), logs)
			}
			rec := recs[0]
			if rec["level"] != "ERROR" || rec["request_id"] != "req-123" || rec["method"] != "POST" ||
				rec["route"] != "/auth/login" || !strings.Contains(fmt.Sprint(rec["err"]), secret) {
				t.Errorf("log record lacks request id, method, route or cause: %v", rec)
			}
			if _, isPanic := tt.err.(*panicError); isPanic && rec["stack"] != "goroutine 1" {
				t.Errorf("panic logged without its stack: %v", rec)
			}
		})
	}
}

func TestHandleErrorCommittedResponse(t *testing.T) {
	s, logs := newServer(t, Options{})
	req := httptest.NewRequest(http.MethodGet, "/users/me", nil)
	w := httptest.NewRecorder()
	c := s.echo.NewContext(req, w)
	if err := c.String(http.StatusOK, "partial"); err != nil {
		t.Fatal(err)
	}

	s.handleError(errors.New("write failed half-way"), c)

	if w.Code != http.StatusOK || w.Body.String() != "partial" {
		t.Errorf("a committed answer was changed: %d %q", w.Code, w.Body)
	}
	// The cause is still a fault of ours; it must not vanish.
	if n := len(logs.records(t)); n != 1 {
		t.Errorf("logged %d records, want 1", n)
	}
}

func TestHandleErrorHead(t *testing.T) {
	s, _ := newServer(t, Options{})
	req := httptest.NewRequest(http.MethodHead, "/healthz", nil)
	w := httptest.NewRecorder()
	s.handleError(domain.ErrUnauthenticated, s.echo.NewContext(req, w))
	if w.Code != http.StatusUnauthorized || w.Body.Len() != 0 || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("HEAD answer: %d %q %v", w.Code, w.Body, w.Header())
	}
}

func TestRetrySeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0: 1, time.Nanosecond: 1, time.Second: 1, time.Second + 1: 2, 59*time.Second + time.Millisecond: 60, time.Minute: 60,
	} {
		if got := retrySeconds(d); got != want {
			t.Errorf("retrySeconds(%s) = %d, want %d", d, got, want)
		}
	}
}
