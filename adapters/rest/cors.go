package rest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// CORS lets the pages of the configured origins call the API from a browser,
// with credentials; any other origin gets no CORS header at all, so the
// browser keeps the answer from its page. Origins are compared exactly as
// the browser sends them (scheme, host and port, lower case, no path).
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, X-Request-ID"
	corsExposeHeaders = "X-Request-ID, Retry-After, WWW-Authenticate"
	// corsMaxAge is how long a browser may reuse a preflight answer.
	corsMaxAge = 10 * time.Minute
)

// allowOrigins answers preflight requests from allowed origins itself, and
// marks every other answer to them (errors included) as readable by the
// calling page.
func (s *Server) allowOrigins(next echo.HandlerFunc) echo.HandlerFunc {
	if len(s.cors) == 0 {
		return next
	}
	return func(c echo.Context) error {
		r := c.Request()
		h := c.Response().Header()
		// The answer depends on Origin whenever CORS is on, allowed origin
		// or not: a shared cache must not hand one origin's answer to another.
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !s.cors[origin] {
			return next(c)
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(corsMaxAge/time.Second)))
			return c.NoContent(http.StatusNoContent)
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return next(c)
	}
}
