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
	"github.com/authd/authd/adapters/hashpool"
	"github.com/authd/authd/adapters/jwt"
	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/adapters/prom"
	"github.com/authd/authd/adapters/readthrough"
	"github.com/authd/authd/adapters/redis"
	"github.com/authd/authd/adapters/rest"
	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/app"
	"github.com/authd/authd/config"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// newLogger builds the one process logger. Records made while serving a
// request carry its request_id, so app's security events (failed login,
// token reuse) can be matched to the request and its response header.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.Log.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(rest.LogHandler(h))
}

// stack is everything serve and the other commands build from config, and
// the order to take it down in.
type stack struct {
	svc *app.Service
	db  *sqlstore.DB
	// ipLimiter counts requests per client address (rest); app counts
	// failed logins on its own limiter.
	ipLimiter ports.RateLimiter
	ready     map[string]func(context.Context) error
	// metrics are the adapters' counters as the metrics adapter reads
	// them; serve gives them to prom.New.
	metrics prom.Sources
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
	st.metrics.DB = db.Stats
	st.closers = append(st.closers, func() { _ = db.Close() })
	st.ready["database"] = db.Ping
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}

	// The cache sits in front of the stores without app knowing: Redis
	// with client-side caching when configured, else process memory;
	// AUTH_CACHE_TTL=0 reads the database on every request. Redis still
	// carries the shared rate limits then.
	var (
		cache   ports.Cache
		mcache  *memory.Cache     // the cache, when it is process memory
		limiter ports.RateLimiter = memory.NewRateLimiter(clock)
		// In process memory both limits are exact and cost no round trip.
		ipLimiter = limiter
		// The cache's counters, reported only if the cache is used.
		cacheStats func() prom.CacheStats
		localStats func() prom.LocalCacheStats
	)
	if cfg.Redis.URL != "" {
		rc, err := redis.Open(ctx, redis.Options{
			URL: cfg.Redis.URL, CacheSizeMB: cfg.Cache.SizeMB, LocalTTL: max(cfg.Cache.TTL, time.Second), Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		st.closers = append(st.closers, rc.Close)
		st.ready["redis"] = rc.Ping
		rcache := redis.NewCache(rc, "authd:")
		// Failed logins are few and guard passwords: each is counted in
		// Redis before it is answered. Every /auth/ request passes the
		// per-address limit, so that one counts in memory and sends the
		// counts in batches until a client has used a quarter of its limit
		// (redis.BufferedLimiter), sparing each request a round trip; the
		// Locust workload's busiest user sends 40 a minute against 600.
		rlimiter := redis.NewRateLimiter(rc, "authd:rl:", limiter)
		riplimiter := redis.NewBufferedLimiter(rc, "authd:rl:", limiter, redis.BufferedOptions{
			ExactFrom: int64(cfg.RateLimit.IPPerMinute / 4),
		})
		st.closers = append(st.closers, riplimiter.Close)
		cache, limiter, ipLimiter = rcache, rlimiter, riplimiter
		st.metrics.LimiterFallbacks = func() int64 { return rlimiter.Fallbacks() + riplimiter.Fallbacks() }
		cacheStats = func() prom.CacheStats {
			s := rcache.Stats()
			return prom.CacheStats{LocalHits: s.LocalHits, RedisHits: s.RedisHits, Misses: s.Misses, Errors: s.Errors}
		}
	} else {
		// About 1 KiB an entry (a JSON user or session and its key).
		mcache = memory.NewCache(cfg.Cache.SizeMB<<10, clock)
		cache = mcache
		cacheStats = func() prom.CacheStats {
			s := mcache.Stats()
			return prom.CacheStats{LocalHits: s.Hits, Misses: s.Misses}
		}
		localStats = func() prom.LocalCacheStats {
			s := mcache.Stats()
			return prom.LocalCacheStats{Entries: s.Entries, Evictions: s.Evictions}
		}
	}
	st.ipLimiter = ipLimiter
	sqlUsers := sqlstore.NewUserStore(db)
	var (
		users    ports.UserStore    = sqlUsers
		sessions ports.SessionStore = sqlstore.NewSessionStore(db)
	)
	if cfg.Cache.TTL > 0 {
		cacheOpts := readthrough.Options{TTL: cfg.Cache.TTL, Logger: log, Clock: clock}
		cachedUsers := readthrough.NewUserStore(users, cache, cacheOpts)
		cachedSessions := readthrough.NewSessionStore(sessions, cache, cacheOpts)
		users, sessions = cachedUsers, cachedSessions
		// A change another instance made reaches this one through the
		// cache, unless that instance could not write it there (cut off
		// from Redis) or there is no shared cache (in-process caches on
		// one PostgreSQL). PostgreSQL announces the changes authentication
		// depends on itself, and each one is read past the cache here.
		// After a gap in hearing it, an in-process cache may hold anything
		// stale and is dropped; Redis' copies are kept coherent by Redis.
		if db.Dialect() == sqlstore.DialectPostgres {
			stop, err := db.Watch(ctx, func(c sqlstore.Change) {
				switch c.Kind {
				case sqlstore.ChangedUser:
					cachedUsers.Changed(domain.UserID(c.ID))
				case sqlstore.ChangedSession:
					cachedSessions.Changed(domain.SessionID(c.ID))
				case sqlstore.ChangedUnknown:
					if mcache != nil {
						mcache.Clear()
					}
				}
			})
			if err != nil {
				return nil, fmt.Errorf("watch the database for changes: %w", err)
			}
			st.closers = append(st.closers, stop)
		}
		st.metrics.Cache, st.metrics.LocalCache = cacheStats, localStats
		st.metrics.PendingRepairs = map[string]func() int{
			"users": cachedUsers.PendingRepairs, "sessions": cachedSessions.PendingRepairs,
		}
	}

	// Every bcrypt run, the dummy one for unknown emails included, goes
	// through one bounded pool, so hashing cannot take every core from the
	// requests that need none.
	hasher := hashpool.New(bcrypt.NewHasher(cfg.Hashing.BcryptCost), hashpool.Options{
		Workers: cfg.Hashing.Workers, MaxWait: cfg.Hashing.MaxWait, Clock: clock,
		// Requests first, hashing with what is left: see hashpool.Options.Nice.
		Nice: 10,
	})
	st.closers = append(st.closers, hasher.Close)
	st.metrics.HashPool = func() prom.HashPoolStats {
		s := hasher.Stats()
		return prom.HashPoolStats{
			Workers: s.Workers, MaxQueue: s.MaxQueue, InFlight: s.InFlight, Queued: s.Queued,
			Rejected: s.Rejected, Abandoned: s.Abandoned, Waits: s.Waits, WaitSum: s.WaitSum,
			HashEstimate: s.HashEstimate,
		}
	}
	var credentials app.CredentialCache
	if cfg.Hashing.CredentialCacheTTL > 0 {
		credentials = memory.NewCredentialCache(cfg.Hashing.CredentialCacheTTL, 100_000, clock)
	}

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
		Users: users, Sessions: sessions, Directory: sqlUsers, Hasher: hasher, Credentials: credentials,
		Tokens: tokens, Limiter: limiter, Clock: clock, Logger: log,
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
