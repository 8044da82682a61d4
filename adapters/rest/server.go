// Package rest is the HTTP adapter: echo routes, request and response DTOs,
// middleware, and the one place where errors become status codes
// (errors.go). It drives the application through the App interface and knows
// nothing of stores, hashing or token formats.
package rest

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// App is what the HTTP adapter calls on the application; cmd passes
// *app.Service. Declared here, where it is used, so handler tests can pass a
// stub and so the adapter's reach into the core is visible in one place.
type App interface {
	Register(ctx context.Context, in app.RegisterInput) (domain.User, error)
	Login(ctx context.Context, in app.LoginInput) (app.Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (app.Tokens, error)
	Logout(ctx context.Context, p app.Principal) error
	Authenticate(ctx context.Context, bearer string) (app.Principal, error)

	UpdateProfile(ctx context.Context, p app.Principal, in app.ProfileUpdate) (domain.User, error)
	ChangePassword(ctx context.Context, p app.Principal, current, next string) error
	ListSessions(ctx context.Context, p app.Principal) ([]domain.Session, error)
	RevokeSession(ctx context.Context, p app.Principal, id domain.SessionID) error

	ListUsers(ctx context.Context, p app.Principal, q ports.UserQuery) (app.UserPage, error)
	User(ctx context.Context, p app.Principal, id domain.UserID) (domain.User, error)
	UpdateUser(ctx context.Context, p app.Principal, id domain.UserID, in app.AdminUpdate) (domain.User, error)
	DeleteUser(ctx context.Context, p app.Principal, id domain.UserID) error
}

// Options configures a Server.
type Options struct {
	// App runs the use cases. Required.
	App App

	// Limiter counts requests per client address on /auth/*; required when
	// IPRatePerMinute is above 0, which is the number of such requests one
	// address may make per minute (0 turns the limit off).
	Limiter         ports.RateLimiter
	IPRatePerMinute int

	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// working out the client address. Empty: the peer is the client.
	TrustedProxies []netip.Prefix

	// CORSOrigins are the origins ("https://app.example.com", as browsers
	// send them in Origin) whose pages may call the API, with credentials.
	// Matched exactly; empty allows no cross-origin access.
	CORSOrigins []string

	// Ready lists the dependencies GET /readyz checks, by the name it
	// reports them under ("database", "redis"). Each check gets ReadyTimeout
	// (default 2s) and must return nil when the dependency answers.
	Ready        map[string]func(context.Context) error
	ReadyTimeout time.Duration

	// Logger receives one line per request (see observe), 5xx causes,
	// panics and failed readiness checks, each tagged with the request id.
	// Nil discards.
	Logger *slog.Logger
	// Observer is told each request's method, route, status and duration
	// once it is answered (metrics). Nil: nobody is.
	Observer RequestObserver
	// MetricsHandler serves GET /metrics. Nil leaves the route out.
	MetricsHandler http.Handler
	// Version is the build version, served as the OpenAPI document's
	// info.version; empty keeps the version written in the document.
	Version string
}

// Server is the HTTP API of authd. It is an http.Handler; cmd serves it with
// its own http.Server, which owns timeouts and shutdown.
type Server struct {
	echo    *echo.Echo
	app     App
	limiter ports.RateLimiter
	ipRate  int
	trusted []netip.Prefix
	ready   map[string]func(context.Context) error
	readyIn time.Duration
	log     *slog.Logger
	cors    map[string]bool
	// observer and metrics are Options.Observer and MetricsHandler.
	observer RequestObserver
	metrics  http.Handler
	// served holds the path template of every route, so that observe can
	// tell a matched route from echo's not-found paths.
	served map[string]bool
	// openapi is the OpenAPI document as served, in JSON.
	openapi []byte
	// bodies memoises GET /auth/me's answer per user (userbody.go).
	bodies *userBodies
}

// NewServer builds the router. It panics when App is nil, or when
// IPRatePerMinute is positive and Limiter is nil: both are wiring mistakes
// in cmd that no request could recover from, caught at start-up. (It would
// also panic if the OpenAPI document embedded in the binary did not parse,
// which the package's tests rule out.)
func NewServer(o Options) *Server {
	switch {
	case o.App == nil:
		panic("rest: Options.App is nil")
	case o.IPRatePerMinute > 0 && o.Limiter == nil:
		panic("rest: Options.IPRatePerMinute is set but Options.Limiter is nil")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 2 * time.Second
	}
	s := &Server{
		echo:    echo.New(),
		app:     o.App,
		limiter: o.Limiter,
		ipRate:  o.IPRatePerMinute,
		trusted: o.TrustedProxies,
		ready:   o.Ready,
		readyIn: o.ReadyTimeout,
		log:     slog.New(LogHandler(o.Logger.Handler())),
		cors:    make(map[string]bool, len(o.CORSOrigins)),
		openapi: openAPIJSON(o.Version),
		bodies:  newUserBodies(),

		observer: o.Observer,
		metrics:  o.MetricsHandler,
		served:   map[string]bool{},
	}
	for _, origin := range o.CORSOrigins {
		s.cors[origin] = true
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// echo's default extractor reads no header at all, and its XFF
	// extractor trusts private ranges by default; ours believes only the
	// configured proxies. Setting it keeps c.RealIP() consistent with
	// the address sessions and rate limits see.
	e.IPExtractor = func(r *http.Request) string { return addrString(clientAddr(r, s.trusted)) }
	s.routes()
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			s.served[r.Path] = true
		}
	}
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// routes is the whole API surface in one place. Middleware installed with
// Use runs for every request, unmatched ones (404, 405) included, so those
// answers carry a request id and problem documents too.
func (s *Server) routes() {
	e := s.echo
	e.Use(
		s.requestID,
		s.observe, // counts and logs what the rest of the chain answers
		s.recoverPanic,
		securityHeaders,
		s.allowOrigins, // before the limits, so that a 413 or 429 reaches the page
		limitBody,
		s.limitIP, // only counts paths under /auth/
	)

	e.POST("/auth/register", s.register)
	e.POST("/auth/login", s.login)
	e.POST("/auth/refresh", s.refresh)
	e.POST("/auth/logout", s.logout, s.requireBearer)
	e.GET("/auth/me", s.me, s.requireBearer)
	e.GET("/users/me", s.me, s.requireBearer)
	e.PATCH("/users/me", s.updateMe, s.requireBearer)
	e.PUT("/users/me/password", s.changePassword, s.requireBearer)
	e.GET("/users/me/sessions", s.sessions, s.requireBearer)
	e.DELETE("/users/me/sessions/:id", s.revokeSession, s.requireBearer)

	// The group's middleware also runs for paths under /admin that match no
	// route, so those too are 401 or 403 before they are 404: the admin
	// surface looks the same to outsiders whatever exists. (The group's
	// catch-all also makes a method no admin route has 404, not 405.)
	admin := e.Group("/admin", s.requireBearer, s.requireAdmin)
	admin.GET("/users", s.listUsers)
	admin.GET("/users/:id", s.user)
	admin.PATCH("/users/:id", s.updateUser)
	admin.DELETE("/users/:id", s.deleteUser)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.metrics))
	}

	e.GET("/openapi.json", s.openAPI)
	e.GET("/docs", s.docs)
	e.GET("/docs/assets/:file", s.docsAsset)
}
