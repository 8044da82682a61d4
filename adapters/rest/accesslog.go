package rest

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/domain"
)

// RequestObserver is told the outcome of every request, once it has been
// answered; cmd passes the metrics adapter. It is called on the request's
// goroutine, so it must be cheap and safe for concurrent use.
//
// route is the template of the route that served the request
// ("/admin/users/:id"), or RouteUnmatched: never the raw path, so it takes
// a bounded set of values and can be a metric label. status is the code
// sent; d runs from the router to the end of the answer.
type RequestObserver interface {
	ObserveRequest(method, route string, status int, d time.Duration)
}

// RouteUnmatched is the route of a request that no route matched (404,
// and the 401 or 403 of an unknown path under /admin).
const RouteUnmatched = "unmatched"

// noteEmail puts the masked form of the request's email address
// ("a***@example.com") on its access-log line; an address that does not
// parse is left out rather than logged in a form nobody checked.
func noteEmail(c echo.Context, raw string) {
	e, err := domain.ParseEmail(raw)
	if st := stateOf(c.Request().Context()); st != nil && err == nil {
		st.email = e.Masked()
	}
}

// observe answers every request's error itself rather than leaving it to
// echo after the chain returns, so that the status it counts and logs is
// the one that was sent; it then reports the request to the observer and
// writes one access-log line. Probes and scrapes (/healthz, /readyz,
// /metrics) log at debug, so a scraper does not fill the log. The line
// never holds the body, a header, a token or a full email.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			s.handleError(err, c)
		}
		end := time.Now()
		d := end.Sub(start)
		req := c.Request()
		route := c.Path()
		if !s.served[route] {
			route = RouteUnmatched
		}
		status := c.Response().Status
		if s.observer != nil {
			s.observer.ObserveRequest(req.Method, route, status, d)
		}

		ctx := req.Context()
		level := slog.LevelInfo
		switch route {
		case "/healthz", "/readyz", "/metrics":
			level = slog.LevelDebug
		}
		h := s.log.Handler()
		if !h.Enabled(ctx, level) {
			return nil
		}
		// A fixed array: the common line is built without allocating for
		// its attributes.
		var buf [8]slog.Attr
		attrs := append(buf[:0],
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d)/float64(time.Millisecond)),
			slog.String("client", addrString(clientAddr(req, s.trusted))),
		)
		if st := stateOf(ctx); st != nil {
			if st.principal != nil {
				attrs = append(attrs, slog.String("user_id", string(st.principal.User.ID)))
			}
			if st.email != "" {
				attrs = append(attrs, slog.String("email", st.email))
			}
		}
		// Built by hand rather than with Logger.LogAttrs, which would spend
		// a stack walk on a source location the line does not need.
		// request_id is added by LogHandler, from ctx.
		r := slog.NewRecord(end, level, "request", 0)
		r.AddAttrs(attrs...)
		_ = h.Handle(ctx, r) // a failing log writer has no one to tell
		return nil
	}
}
