package rest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHealthz(t *testing.T) {
	s, _ := newServer(t, Options{Ready: map[string]func(context.Context) error{
		"database": func(context.Context) error { return errors.New("down") },
	}})
	w := call(s, "GET", "/healthz", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	failing := func(context.Context) error { return errors.New("dial tcp 10.9.8.7:5432: connection refused") }
	// hanging ignores nothing but its context: it answers only when the
	// deadline passes, so the test waits ReadyTimeout, not a guess.
	hanging := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	deaf := make(chan struct{})
	t.Cleanup(func() { close(deaf) })
	ignoresDeadline := func(context.Context) error { <-deaf; return nil }
	panicking := func(context.Context) error { panic("driver bug") }

	tests := []struct {
		name   string
		checks map[string]func(context.Context) error
		status int
		body   string
		logged []string // check names with a warning
	}{
		{"none", nil, 200, `{"status":"ok","checks":{}}`, nil},
		{"all up", map[string]func(context.Context) error{"database": ok, "redis": ok},
			200, `{"status":"ok","checks":{"database":"ok","redis":"ok"}}`, nil},
		{"database down", map[string]func(context.Context) error{"database": failing, "redis": ok},
			503, `{"status":"unavailable","checks":{"database":"down","redis":"ok"}}`, []string{"database"}},
		{"redis slow", map[string]func(context.Context) error{"database": ok, "redis": hanging},
			503, `{"status":"unavailable","checks":{"database":"ok","redis":"down"}}`, []string{"redis"}},
		{"check ignores its deadline", map[string]func(context.Context) error{"database": ignoresDeadline},
			503, `{"status":"unavailable","checks":{"database":"down"}}`, []string{"database"}},
		{"check panics", map[string]func(context.Context) error{"database": panicking},
			503, `{"status":"unavailable","checks":{"database":"down"}}`, []string{"database"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newServer(t, Options{Ready: tt.checks, ReadyTimeout: 50 * time.Millisecond})
			w := call(s, "GET", "/readyz", "")
			if w.Code != tt.status || strings.TrimSpace(w.Body.String()) != tt.body {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.body)
			}
			var warned []string
			for _, rec := range logs.records(t) {
				warned = append(warned, rec["check"].(string))
			}
			if strings.Join(warned, ",") != strings.Join(tt.logged, ",") {
				t.Errorf("warnings for %v, want %v: %s", warned, tt.logged, logs)
			}
		})
	}
}
