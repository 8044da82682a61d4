package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

// maxBody is the largest request body accepted (API.md: 64 KiB).
const maxBody = 64 << 10

// requestID gives every request an id: the client's own when sane, else a
// fresh one. It is echoed in X-Request-ID and carried in the request
// context, where LogHandler finds it.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(HeaderRequestID, id)
		c.SetRequest(r.WithContext(withRequestID(r.Context(), id)))
		return next(c)
	}
}

// panicError is a recovered panic on its way to the error mapper, which
// logs it with its stack and answers a plain 500.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // net/http's way to abort a response on purpose
					panic(v)
				}
				err = &panicError{value: v, stack: debug.Stack()}
			}
		}()
		return next(c)
	}
}

// securityHeaders applies to every answer. Everything this API returns is
// either a token, a user, or an error about one of them; none of it belongs
// in a shared or browser cache. A route with cacheable content (a static
// document) may set its own Cache-Control.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["Cache-Control"] = noStore
		h["X-Content-Type-Options"] = noSniff
		return next(c)
	}
}

// The values securityHeaders sets, shared by every response rather than
// allocated for each (Header.Set makes a new one-element slice every time).
// Sharing is safe: net/http only reads them, Header.Set replaces the slice
// and Header.Add appends past its capacity of one, into a new array.
var (
	noStore = []string{"no-store"}
	noSniff = []string{"nosniff"}
)

// errBodyTooLarge is the 413 every oversized body gets.
var errBodyTooLarge = echo.NewHTTPError(http.StatusRequestEntityTooLarge,
	fmt.Sprintf("The request body exceeds %d bytes.", maxBody))

// limitBody refuses a declared length over maxBody before reading anything
// and caps what is read, which catches chunked bodies and a Content-Length
// that understates (readObject turns the cap's error into the same 413).
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > maxBody {
			return errBodyTooLarge
		}
		if r.Body != nil && r.Body != http.NoBody {
			// The underlying writer, not echo's wrapper: net/http then knows
			// to close the connection instead of draining an endless body.
			r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, maxBody)
		}
		return next(c)
	}
}

// limitIP counts every request under /auth/ (matched or not, so probing
// unknown paths costs the same) against the client address. A limiter that
// fails lets the request through: the per-account login limit in app still
// stands, and an outage of the counter should not become an outage of login.
func (s *Server) limitIP(next echo.HandlerFunc) echo.HandlerFunc {
	if s.ipRate <= 0 {
		return next
	}
	return func(c echo.Context) error {
		r := c.Request()
		if r.URL.Path != "/auth" && !strings.HasPrefix(r.URL.Path, "/auth/") {
			return next(c)
		}
		w, err := s.limiter.Hit(r.Context(), rateKey(clientAddr(r, s.trusted)), time.Minute)
		switch {
		case err != nil:
			s.log.WarnContext(r.Context(), "ip rate limiter unavailable; request let through", "err", err)
		case w.Count > int64(s.ipRate):
			return &domain.RetryError{Err: domain.ErrRateLimited, RetryAfter: w.ResetIn}
		}
		return next(c)
	}
}

// tokenRejected marks an authentication failure for a request that did
// present a bearer token, so the 401 can say error="invalid_token"
// (RFC 6750 §3.1); a request without one gets a bare challenge.
type tokenRejected struct{ err error }

func (e *tokenRejected) Error() string { return e.err.Error() }
func (e *tokenRejected) Unwrap() error { return e.err }

// requireBearer authenticates the request's bearer token and hands the
// caller to the handler (see principal). A missing or malformed
// Authorization header is domain.ErrUnauthenticated; what App.Authenticate
// refuses keeps its own error (401, or 403 for an inactive account).
func (s *Server) requireBearer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := bearerToken(c.Request().Header)
		if !ok {
			return domain.ErrUnauthenticated
		}
		p, err := s.app.Authenticate(c.Request().Context(), token)
		if err != nil {
			return &tokenRejected{err}
		}
		if st := stateOf(c.Request().Context()); st != nil {
			st.principal = &p
		} else {
			// Served without requestID (a test wiring one route): the
			// request gets a state of its own.
			ctx := context.WithValue(c.Request().Context(), requestStateKey{}, &requestState{principal: &p})
			c.SetRequest(c.Request().WithContext(ctx))
		}
		return next(c)
	}
}

// bearerToken reads "Authorization: Bearer <token>" (the scheme is
// case-insensitive, RFC 9110 §11.1). More than one Authorization header is
// malformed: which one would count is anyone's guess.
func bearerToken(h http.Header) (string, bool) {
	vs := h.Values("Authorization")
	if len(vs) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vs[0]), " ")
	token = strings.TrimLeft(token, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

var errNoPrincipal = errors.New("rest: handler needs requireBearer on its route")

// principal is the caller requireBearer authenticated. A route registered
// without requireBearer fails loudly (500, logged) rather than serving an
// anonymous caller.
func principal(c echo.Context) (app.Principal, error) {
	st := stateOf(c.Request().Context())
	if st == nil || st.principal == nil {
		return app.Principal{}, errNoPrincipal
	}
	return *st.principal, nil
}
