package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/authd/authd/adapters/bcrypt"
	"github.com/authd/authd/adapters/jwt"
	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/app"
	"github.com/authd/authd/config"
	"github.com/authd/authd/ports"
)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// stack is everything serve and the other commands build from config, and
// the order to take it down in.
type stack struct {
	svc     *app.Service
	db      *sqlstore.DB
	limiter ports.RateLimiter
	ready   map[string]func(context.Context) error
	closers []func()
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func openDB(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, sqlstore.Options{
		URL: cfg.Database.URL, MaxOpenConns: cfg.Database.MaxOpenConns,
		MaxIdleConns: cfg.Database.MaxIdleConns, ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// build wires the concrete adapters into the application. It is the only
// place that names them.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (_ *stack, err error) {
	st := &stack{ready: map[string]func(context.Context) error{}}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	clock := ports.ClockFunc(time.Now)

	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	st.db = db
	st.closers = append(st.closers, func() { _ = db.Close() })
	st.ready["database"] = db.Ping
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}

	var (
		users    ports.UserStore    = sqlstore.NewUserStore(db)
		sessions ports.SessionStore = sqlstore.NewSessionStore(db)
		limiter  ports.RateLimiter  = memory.NewRateLimiter(clock)
	)
	st.limiter = limiter

	secret := []byte(cfg.JWT.Secret.Reveal())
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		log.Warn("AUTH_JWT_SECRET is not set: using a random key, so tokens die at restart and cannot be shared between instances")
	}
	tokens, err := jwt.NewIssuer(jwt.Options{
		Secret: secret, Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience,
		TTL: cfg.JWT.AccessTokenTTL, Clock: clock,
	})
	if err != nil {
		return nil, &config.Error{Problems: []config.Problem{{Key: "AUTH_JWT_SECRET", Message: err.Error()}}}
	}

	svc, err := app.New(ctx, app.Deps{
		Users: users, Sessions: sessions,
		Hasher: bcrypt.NewHasher(cfg.Hashing.BcryptCost), Tokens: tokens,
		Limiter: limiter, Clock: clock, Logger: log,
	}, app.Policy{
		AccessTTL: cfg.JWT.AccessTokenTTL, RefreshTTL: cfg.JWT.RefreshTokenTTL,
		RefreshReuseInterval:   cfg.JWT.RefreshReuseInterval,
		LoginFailuresPerMinute: cfg.RateLimit.LoginPerMinute,
	})
	if err != nil {
		return nil, err
	}
	st.svc = svc
	st.closers = append(st.closers, svc.Close)
	return st, nil
}

func migrate(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("migrations applied")
	return nil
}

var errNoPassword = errors.New("create-admin: no password: set AUTH_ADMIN_PASSWORD or pipe it on standard input")
