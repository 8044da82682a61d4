package rest

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// GET /healthz → 200 while the process serves. It checks nothing else, so
// an orchestrator does not restart a healthy process because its database
// blinked.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks"` // name → "ok" or "down"
}

// GET /readyz → 200 when every dependency answers within the deadline,
// else 503 naming the ones that did not. Causes go to the log only: they
// can hold host names and driver messages.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.readyIn)
	defer cancel()

	type result struct {
		name string
		err  error
	}
	// Buffered: a check that ignores its context may finish after we have
	// answered, and must not block on the send.
	results := make(chan result, len(s.ready))
	body := readiness{Status: "ok", Checks: make(map[string]string, len(s.ready))}
	pending := make(map[string]bool, len(s.ready))
	for name, check := range s.ready {
		body.Checks[name], pending[name] = "down", true // until it answers
		go func() {
			// A panicking check must not take the process down with it.
			defer func() {
				if v := recover(); v != nil {
					results <- result{name, fmt.Errorf("panic: %v", v)}
				}
			}()
			results <- result{name, check(ctx)}
		}()
	}
wait:
	for len(pending) > 0 {
		select {
		case r := <-results:
			delete(pending, r.name)
			if r.err != nil {
				s.log.WarnContext(ctx, "readiness check failed", "check", r.name, "err", r.err)
				continue
			}
			body.Checks[r.name] = "ok"
		case <-ctx.Done():
			for name := range pending {
				s.log.WarnContext(ctx, "readiness check failed", "check", name, "err", "no answer within "+s.readyIn.String())
			}
			break wait
		}
	}
	status := http.StatusOK
	for _, state := range body.Checks {
		if state != "ok" {
			body.Status, status = "unavailable", http.StatusServiceUnavailable
		}
	}
	return c.JSON(status, body)
}
