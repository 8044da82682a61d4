package api

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

func TestRequestID(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/nowhere", "/auth/me"} {
		if got := ts.do(t, "GET", path, nil, "X-Request-ID", "client-id_1.2").Header.Get("X-Request-ID"); got != "client-id_1.2" {
			t.Errorf("%s: sane id replaced by %q", path, got)
		}
		for _, bad := range []string{strings.Repeat("x", 129), "a b", "<id>", "id\"quoted"} {
			got := ts.do(t, "GET", path, nil, "X-Request-ID", bad).Header.Get("X-Request-ID")
			if got == bad || got == "" {
				t.Errorf("%s: insane id %q answered with %q", path, bad, got)
			}
		}
	}
	a := ts.do(t, "GET", "/healthz", nil).Header.Get("X-Request-ID")
	b := ts.do(t, "GET", "/healthz", nil).Header.Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests share the id %q", a)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	ts := newTestServer(t)
	ts.do(t, "GET", "/nowhere", nil).want(t, http.StatusNotFound)
	ts.do(t, "GET", "/auth/login/", nil).want(t, http.StatusNotFound)
	ts.do(t, "POST", "/auth/nowhere", `{}`).want(t, http.StatusNotFound)
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/auth/login", "POST"},
		{"DELETE", "/auth/register", "POST"},
		{"POST", "/auth/me", "GET"},
		{"PUT", "/healthz", "GET"},
	} {
		r := ts.do(t, tt.method, tt.path, nil).want(t, http.StatusMethodNotAllowed)
		if !strings.Contains(r.Header.Get("Allow"), tt.allow) {
			t.Errorf("%s %s: Allow %q", tt.method, tt.path, r.Header.Get("Allow"))
		}
	}
}

// usersStub is a ports.UserStore whose Create can be replaced.
type usersStub struct {
	ports.UserStore
	CreateFn func(context.Context, domain.User) error
}

func (s usersStub) Create(ctx context.Context, u domain.User) error {
	if s.CreateFn != nil {
		return s.CreateFn(ctx, u)
	}
	return s.UserStore.Create(ctx, u)
}

func TestInternalError(t *testing.T) {
	const internal = "dial tcp 10.20.30.40:5432: connect: connection refused (pq)"
	ts := newTestServer(t, withUsers(func(inner ports.UserStore) ports.UserStore {
		return usersStub{UserStore: inner, CreateFn: func(context.Context, domain.User) error { return errors.New(internal) }}
	}))
	ts.secret("correct horse battery", "ada@example.com")
	r := ts.do(t, "POST", "/auth/register",
		map[string]string{"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery"},
		"X-Request-ID", "trace-500").want(t, http.StatusInternalServerError)
	p := r.problem(t)
	if strings.Contains(string(r.Body), "10.20.30.40") || strings.Contains(string(r.Body), "refused") {
		t.Errorf("internal text in the answer: %s", r.Body)
	}
	if p.RequestID != "trace-500" || !strings.Contains(p.Detail, "trace-500") {
		t.Errorf("answer does not carry the request id: %s", r.Body)
	}
	recs := ts.logs.records(t, "request failed")
	if len(recs) != 1 {
		t.Fatalf("%d error records, want 1:\n%s", len(recs), ts.logs)
	}
	if rec := recs[0]; rec["request_id"] != "trace-500" || !strings.Contains(rec["err"].(string), internal) ||
		rec["route"] != "/auth/register" || rec["method"] != "POST" {
		t.Errorf("log record %v", rec)
	}
}

func TestIPRateLimit(t *testing.T) {
	ts := newTestServer(t, withIPRate(5))
	for i := range 5 {
		ts.do(t, "POST", "/auth/login", `{}`).want(t, http.StatusUnprocessableEntity)
		if i == 2 {
			ts.Clock.Advance(30 * time.Second)
		}
	}
	r := ts.do(t, "POST", "/auth/register", `{}`).want(t, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30", got)
	}
	ts.do(t, "GET", "/auth/me", nil).want(t, http.StatusTooManyRequests)
	for range 10 {
		ts.do(t, "GET", "/healthz", nil).want(t, http.StatusOK)
	}
	ts.Clock.Advance(30 * time.Second)
	ts.do(t, "POST", "/auth/login", `{}`).want(t, http.StatusUnprocessableEntity)
}

// Behind a trusted proxy each client address has its own budget; an
// untrusted peer cannot buy a fresh one by writing X-Forwarded-For.
func TestIPRateLimitPerClient(t *testing.T) {
	ts := newTestServer(t, withIPRate(2), withTrustedProxies("127.0.0.0/8"))
	for range 2 {
		ts.do(t, "POST", "/auth/login", `{}`, "X-Forwarded-For", "198.51.100.1").want(t, http.StatusUnprocessableEntity)
	}
	ts.do(t, "POST", "/auth/login", `{}`, "X-Forwarded-For", "198.51.100.1").want(t, http.StatusTooManyRequests)
	ts.do(t, "POST", "/auth/login", `{}`, "X-Forwarded-For", "198.51.100.2").want(t, http.StatusUnprocessableEntity)
	// The client wrote the left entry itself; the proxy appended the right one.
	ts.do(t, "POST", "/auth/login", `{}`, "X-Forwarded-For", "203.0.113.9, 198.51.100.1").want(t, http.StatusTooManyRequests)

	untrusted := newTestServer(t, withIPRate(2))
	for i := range 3 {
		want := http.StatusUnprocessableEntity
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		untrusted.do(t, "POST", "/auth/login", `{}`, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i)).want(t, want)
	}
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t, withReady(map[string]func(context.Context) error{
		"database": func(context.Context) error { return errors.New("down") },
	}))
	r := ts.do(t, "GET", "/healthz", nil).want(t, http.StatusOK)
	if strings.TrimSpace(string(r.Body)) != `{"status":"ok"}` {
		t.Errorf("body %s", r.Body)
	}
}

func TestReadyz(t *testing.T) {
	up := func(context.Context) error { return nil }
	ts := newTestServer(t, withReady(map[string]func(context.Context) error{"database": up, "redis": up}))
	r := ts.do(t, "GET", "/readyz", nil).want(t, http.StatusOK)
	if strings.TrimSpace(string(r.Body)) != `{"status":"ok","checks":{"database":"ok","redis":"ok"}}` {
		t.Errorf("body %s", r.Body)
	}

	const cause = "dial tcp 10.0.0.5:5432: connection refused"
	ts = newTestServer(t, withReady(map[string]func(context.Context) error{
		"database": func(context.Context) error { return errors.New(cause) },
		"redis":    up,
	}))
	r = ts.do(t, "GET", "/readyz", nil).want(t, http.StatusServiceUnavailable)
	if strings.TrimSpace(string(r.Body)) != `{"status":"unavailable","checks":{"database":"down","redis":"ok"}}` {
		t.Errorf("body %s", r.Body)
	}
	if recs := ts.logs.records(t, "readiness check failed"); len(recs) != 1 || !strings.Contains(recs[0]["err"].(string), cause) {
		t.Errorf("log:\n%s", ts.logs)
	}
}

// A declared length over the limit is refused before the body is read: the
// server answers although the client never sends those bytes.
func TestDeclaredLengthOverLimit(t *testing.T) {
	ts := newTestServer(t)
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A deadline so a server that waits for the body fails the test
	// instead of hanging it.
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Write([]byte("POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Content-Length: 1000000\r\n\r\n{\"name\":"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("HTTP %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
