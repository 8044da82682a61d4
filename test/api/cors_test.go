package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

const app1 = "https://app.example.com"

// headerList splits every value of a comma-separated header.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func assertNoCORS(t *testing.T, what string, r response) {
	t.Helper()
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			t.Errorf("%s: %s: %q", what, name, r.Header.Get(name))
		}
	}
}

func assertCORS(t *testing.T, what string, r response, origin string) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, got, origin)
	}
	if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("%s: Access-Control-Allow-Credentials %q", what, got)
	}
	if !slices.Contains(headerList(r.Header, "Vary"), "Origin") {
		t.Errorf("%s: Vary %q", what, r.Header.Values("Vary"))
	}
}

func TestCORSAllowedOrigin(t *testing.T) {
	ts := newTestServer(t, withCORSOrigins(app1, "http://localhost:3000"))
	_, tk := ts.account(t, "ada@example.com")

	r := ts.authed(t, tk.AccessToken, "GET", "/users/me", nil, "Origin", app1).want(t, http.StatusOK)
	assertCORS(t, "GET /users/me", r, app1)
	exposed := headerList(r.Header, "Access-Control-Expose-Headers")
	for _, h := range []string{"X-Request-ID", "Retry-After", "WWW-Authenticate"} {
		if !slices.Contains(exposed, h) {
			t.Errorf("%s not exposed: %q", h, exposed)
		}
	}
	// Error answers are readable by the page too, or it could not tell a
	// dead token from a network failure.
	r = ts.do(t, "GET", "/users/me", nil, "Origin", "http://localhost:3000").want(t, http.StatusUnauthorized)
	assertCORS(t, "a 401", r, "http://localhost:3000")
	r = ts.do(t, "GET", "/nowhere", nil, "Origin", app1).want(t, http.StatusNotFound)
	assertCORS(t, "a 404", r, app1)
}

func TestCORSPreflight(t *testing.T) {
	ts := newTestServer(t, withCORSOrigins(app1), withIPRate(1))
	for _, path := range []string{"/users/me", "/auth/login", "/admin/users/x"} {
		// More preflights than the IP rate allows requests: they are not
		// counted (the browser sends one before many calls).
		for range 2 {
			r := ts.do(t, "OPTIONS", path, nil, "Origin", app1,
				"Access-Control-Request-Method", "PATCH",
				"Access-Control-Request-Headers", "authorization, content-type, x-request-id").
				want(t, http.StatusNoContent)
			assertCORS(t, "preflight of "+path, r, app1)
			methods := headerList(r.Header, "Access-Control-Allow-Methods")
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if !slices.Contains(methods, m) {
					t.Errorf("%s: %s not allowed: %q", path, m, methods)
				}
			}
			headers := headerList(r.Header, "Access-Control-Allow-Headers")
			for _, h := range []string{"Authorization", "Content-Type", "X-Request-ID"} {
				if !slices.Contains(headers, h) {
					t.Errorf("%s: header %s not allowed: %q", path, h, headers)
				}
			}
			if r.Header.Get("Access-Control-Max-Age") != "600" {
				t.Errorf("%s: Access-Control-Max-Age %q", path, r.Header.Get("Access-Control-Max-Age"))
			}
			if r.Header.Get("X-Request-ID") == "" {
				t.Errorf("%s: preflight without X-Request-ID", path)
			}
		}
	}
}

// An origin that is not listed gets no CORS header at all, so the browser
// keeps the answer from its page; neither does a near miss.
func TestCORSOtherOrigins(t *testing.T) {
	ts := newTestServer(t, withCORSOrigins(app1))
	_, tk := ts.account(t, "ada@example.com")
	for _, origin := range []string{
		"https://evil.example.com",
		"http://app.example.com",       // another scheme
		"https://app.example.com:8443", // another port
		"https://app.example.com/",     // not an origin
		"https://app.example.com.evil.example",
		"null",
	} {
		r := ts.authed(t, tk.AccessToken, "GET", "/users/me", nil, "Origin", origin).want(t, http.StatusOK)
		assertNoCORS(t, origin, r)
		if !slices.Contains(headerList(r.Header, "Vary"), "Origin") {
			t.Errorf("%s: Vary %q", origin, r.Header.Values("Vary"))
		}
		r = ts.do(t, "OPTIONS", "/users/me", nil, "Origin", origin, "Access-Control-Request-Method", "PATCH")
		assertNoCORS(t, "preflight from "+origin, r)
	}
	// Without Origin (not a browser's cross-origin call): nothing either.
	assertNoCORS(t, "no Origin", ts.me(t, tk.AccessToken).want(t, http.StatusOK))
}

// With no origin configured (the default) nothing is allowed.
func TestCORSOff(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	r := ts.authed(t, tk.AccessToken, "GET", "/users/me", nil, "Origin", app1).want(t, http.StatusOK)
	assertNoCORS(t, "GET", r)
	r = ts.do(t, "OPTIONS", "/users/me", nil, "Origin", app1, "Access-Control-Request-Method", "GET")
	assertNoCORS(t, "preflight", r)
}
