package api

import (
	"net/http"
	"strings"
	"testing"
)

// GET /metrics answers in the Prometheus text format and counts the
// requests before it by method, route template and status.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "metrics@example.com")
	for range 2 {
		ts.me(t, tk.AccessToken).want(t, http.StatusOK)
	}
	ts.me(t, "not-a-token").want(t, http.StatusUnauthorized)
	ts.do(t, "GET", "/no/such/path", nil).want(t, http.StatusNotFound)
	ts.do(t, "DELETE", "/auth/me", nil).want(t, http.StatusMethodNotAllowed)
	ts.do(t, "GET", "/admin/users/some-id", nil).want(t, http.StatusUnauthorized)

	r := ts.do(t, "GET", "/metrics", nil).want(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	body := string(r.Body)
	for _, line := range []string{
		`authd_http_requests_total{method="POST",route="/auth/register",status="201"} 1`,
		`authd_http_requests_total{method="POST",route="/auth/login",status="200"} 1`,
		`authd_http_requests_total{method="GET",route="/auth/me",status="200"} 2`,
		`authd_http_requests_total{method="GET",route="/auth/me",status="401"} 1`,
		`authd_http_requests_total{method="DELETE",route="/auth/me",status="405"} 1`,
		`authd_http_requests_total{method="GET",route="/admin/users/:id",status="401"} 1`,
		`authd_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`authd_http_request_duration_seconds_count{method="GET",route="/auth/me",status="200"} 2`,
		`authd_http_request_duration_seconds_bucket{method="GET",route="/auth/me",status="200",le="+Inf"} 2`,
		`authd_build_info{goversion="go`,
		"# TYPE authd_http_request_duration_seconds histogram",
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("no %s", line)
		}
	}
	// Raw paths never become labels.
	for _, raw := range []string{"/no/such/path", "some-id"} {
		if strings.Contains(body, raw) {
			t.Errorf("the raw path %q is a label", raw)
		}
	}

	// The scrape itself is counted by the next one.
	again := string(ts.do(t, "GET", "/metrics", nil).want(t, http.StatusOK).Body)
	if !strings.Contains(again, `authd_http_requests_total{method="GET",route="/metrics",status="200"} 1`) {
		t.Error("the first scrape was not counted")
	}
}

// Register, log in and read /auth/me with a known password and tokens:
// each request leaves one access line with its method, route, status,
// duration, request id and client, the two that carry an email show it
// masked, and no line holds the password, a token or the full address.
func TestAccessLog(t *testing.T) {
	ts := newTestServer(t)
	const (
		email    = "Grace.Hopper@Example.com"
		password = "cobol-is-forever-1959"
	)
	ts.register(t, "Grace Hopper", email, password)
	tk := ts.login(t, email, password)
	me := ts.me(t, tk.AccessToken).want(t, http.StatusOK)
	ts.do(t, "POST", "/auth/login", map[string]string{"email": email, "password": password + "-wrong"}).
		want(t, http.StatusUnauthorized)
	ts.refresh(t, tk.RefreshToken).want(t, http.StatusOK)

	lines := ts.logs.records(t, "request")
	want := []struct {
		method, route string
		status        float64
		email         any
	}{
		{"POST", "/auth/register", 201, "g***@example.com"},
		{"POST", "/auth/login", 200, "g***@example.com"},
		{"GET", "/auth/me", 200, nil},
		{"POST", "/auth/login", 401, "g***@example.com"},
		{"POST", "/auth/refresh", 200, nil},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d access lines, want %d:\n%s", len(lines), len(want), ts.logs)
	}
	for i, w := range want {
		l := lines[i]
		if l["level"] != "INFO" || l["method"] != w.method || l["route"] != w.route || l["status"] != w.status || l["email"] != w.email {
			t.Errorf("line %d: %v, want %+v", i, l, w)
		}
		if id, _ := l["request_id"].(string); len(id) != 32 {
			t.Errorf("line %d: request_id %v", i, l["request_id"])
		}
		if ms, ok := l["duration_ms"].(float64); !ok || ms < 0 {
			t.Errorf("line %d: duration_ms %v", i, l["duration_ms"])
		}
		if l["client"] != "127.0.0.1" {
			t.Errorf("line %d: client %v", i, l["client"])
		}
	}
	if lines[2]["request_id"] != me.Header.Get("X-Request-ID") || lines[2]["user_id"] == nil {
		t.Errorf("GET /auth/me line %v: request id or user id missing (answer id %s)", lines[2], me.Header.Get("X-Request-ID"))
	}

	all := ts.logs.String()
	for _, secret := range []string{password, tk.AccessToken, tk.RefreshToken, email, strings.ToLower(email)} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds %.6s…:\n%s", secret, all)
		}
	}
}
