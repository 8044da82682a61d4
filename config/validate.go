package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Ranges that more than one check or message uses.
const (
	minBcryptCost   = 10 // below this a hash costs too little to slow guessing
	maxBcryptCost   = 14 // 16× cost 10: over a second of CPU per login here
	minSecretLen    = 32 // HS256 key: as long as the hash output (RFC 7518 §3.2)
	maxAccessTTL    = 24 * time.Hour
	maxRefreshTTL   = 365 * 24 * time.Hour
	maxCredCacheTTL = 24 * time.Hour
)

// Validate checks every setting and returns a *Error naming each bad one
// by its AUTH_ variable, or nil. Values are refused, never clamped: a
// setting that silently meant something else would be worse than a failed
// start.
func (c Config) Validate() error {
	e := &Error{}
	c.HTTP.validate(e)
	c.Database.validate(e)
	c.Redis.validate(e)
	c.Cache.validate(e)
	c.JWT.validate(e)
	c.Hashing.validate(e)
	c.RateLimit.validate(e)
	c.Log.validate(e)
	return e.err()
}

func (h HTTP) validate(e *Error) {
	if host, port, err := net.SplitHostPort(h.Addr); err != nil {
		e.add("AUTH_HTTP_ADDR", "must be host:port such as 127.0.0.1:8000 or :8000, got %q", h.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		e.add("AUTH_HTTP_ADDR", "port must be a number from 0 to 65535, got %q", port)
	} else if strings.ContainsAny(host, " \t") {
		e.add("AUTH_HTTP_ADDR", "host must not contain spaces, got %q", host)
	}
	positive(e, "AUTH_HTTP_READ_TIMEOUT", h.ReadTimeout)
	positive(e, "AUTH_HTTP_WRITE_TIMEOUT", h.WriteTimeout)
	positive(e, "AUTH_HTTP_IDLE_TIMEOUT", h.IdleTimeout)
	positive(e, "AUTH_SHUTDOWN_TIMEOUT", h.ShutdownTimeout)

	var bad []string
	for _, o := range h.CORSOrigins {
		if !isOrigin(o) {
			bad = append(bad, strconv.Quote(o))
		}
	}
	if len(bad) > 0 {
		e.add("AUTH_CORS_ORIGINS", "each must be an http(s) origin such as https://app.example.com, without path or trailing slash; not one: %s", strings.Join(bad, ", "))
	}
	for _, p := range h.TrustedProxies {
		if !p.IsValid() {
			e.add("AUTH_TRUSTED_PROXIES", "holds an invalid prefix")
			break
		}
	}
}

// isOrigin reports whether s is exactly "scheme://host[:port]" as a browser
// sends it in an Origin header.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" &&
		!u.ForceQuery && s == u.Scheme+"://"+u.Host
}

func (d Database) validate(e *Error) {
	if problem := checkDatabaseURL(d.URL); problem != "" {
		e.add("AUTH_DATABASE_URL", "%s", problem)
	}
	if d.MaxOpenConns < 1 {
		e.add("AUTH_DB_MAX_OPEN_CONNS", "must be at least 1, got %d", d.MaxOpenConns)
	} else if d.MaxIdleConns < 0 || d.MaxIdleConns > d.MaxOpenConns {
		// database/sql would quietly lower it to the open limit.
		e.add("AUTH_DB_MAX_IDLE_CONNS", "must be between 0 and AUTH_DB_MAX_OPEN_CONNS (%d), got %d", d.MaxOpenConns, d.MaxIdleConns)
	}
	if d.ConnMaxLifetime < 0 {
		e.add("AUTH_DB_CONN_MAX_LIFETIME", "must not be negative (0 keeps connections), got %s", fmtDuration(d.ConnMaxLifetime))
	}
}

// checkDatabaseURL returns what is wrong with u, or "". It never quotes u:
// the URL may carry a password.
func checkDatabaseURL(u string) string {
	const want = "must be postgres://…, postgresql://…, sqlite://PATH or sqlite::memory:"
	switch {
	case u == "sqlite::memory:":
		return ""
	case strings.HasPrefix(u, "sqlite://"):
		if strings.TrimPrefix(u, "sqlite://") == "" {
			return "sqlite:// needs a file path, as in sqlite://data/authd.db"
		}
		return ""
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			return "is not a valid URL (percent-encode special characters in the password)"
		}
		return ""
	case u == "":
		return want + ", got an empty value"
	}
	if scheme, _, ok := strings.Cut(u, ":"); ok && !strings.ContainsAny(scheme, "/@ ") {
		return want + ", got scheme " + strconv.Quote(scheme)
	}
	return want
}

func (r Redis) validate(e *Error) {
	if r.URL == "" {
		return
	}
	u, err := url.Parse(r.URL)
	switch {
	case err != nil:
		// Not quoted: it may hold a password.
		e.add("AUTH_REDIS_URL", "is not a valid URL (percent-encode special characters in the password)")
	case u.Scheme == "redis" || u.Scheme == "rediss":
		if u.Host == "" {
			e.add("AUTH_REDIS_URL", "needs a host, as in redis://127.0.0.1:6379/0")
		}
	case u.Scheme == "unix":
		if u.Path == "" {
			e.add("AUTH_REDIS_URL", "needs a socket path, as in unix:///run/redis.sock")
		}
	default:
		e.add("AUTH_REDIS_URL", "must be redis://, rediss:// or unix://, got scheme %q", u.Scheme)
	}
}

func (c Cache) validate(e *Error) {
	if c.TTL != 0 { // 0 turns caching off
		between(e, "AUTH_CACHE_TTL", c.TTL, time.Second, time.Hour)
	}
	if c.SizeMB < 1 || c.SizeMB > 4096 {
		e.add("AUTH_CACHE_SIZE_MB", "must be between 1 and 4096, got %d", c.SizeMB)
	}
}

func (j JWT) validate(e *Error) {
	if n := len(j.Secret); n > 0 && n < minSecretLen {
		e.add("AUTH_JWT_SECRET", "must be at least %d bytes when set, got %d", minSecretLen, n)
	}
	if j.Issuer == "" {
		e.add("AUTH_JWT_ISSUER", "must not be empty")
	}
	if j.Audience == "" {
		e.add("AUTH_JWT_AUDIENCE", "must not be empty")
	}
	accessOK := between(e, "AUTH_ACCESS_TOKEN_TTL", j.AccessTokenTTL, time.Second, maxAccessTTL)
	if j.RefreshTokenTTL > maxRefreshTTL {
		e.add("AUTH_REFRESH_TOKEN_TTL", "must be at most %s, got %s", fmtDuration(maxRefreshTTL), fmtDuration(j.RefreshTokenTTL))
	} else if j.RefreshTokenTTL <= 0 || accessOK && j.RefreshTokenTTL <= j.AccessTokenTTL {
		e.add("AUTH_REFRESH_TOKEN_TTL", "must be longer than AUTH_ACCESS_TOKEN_TTL (%s), got %s", fmtDuration(j.AccessTokenTTL), fmtDuration(j.RefreshTokenTTL))
	}
	// Compared with the access TTL only when that is valid, so one bad
	// value is reported once.
	if j.RefreshReuseInterval < 0 || accessOK && j.RefreshReuseInterval >= j.AccessTokenTTL {
		e.add("AUTH_REFRESH_REUSE_INTERVAL", "must be at least 0s and less than AUTH_ACCESS_TOKEN_TTL (%s), got %s", fmtDuration(j.AccessTokenTTL), fmtDuration(j.RefreshReuseInterval))
	}
}

func (h Hashing) validate(e *Error) {
	if h.BcryptCost < minBcryptCost || h.BcryptCost > maxBcryptCost {
		e.add("AUTH_BCRYPT_COST", "must be between %d and %d, got %d", minBcryptCost, maxBcryptCost, h.BcryptCost)
	}
	if h.Workers < 1 || h.Workers > 256 {
		e.add("AUTH_HASH_WORKERS", "must be between 1 and 256, got %d", h.Workers)
	}
	positive(e, "AUTH_HASH_MAX_WAIT", h.MaxWait)
	between(e, "AUTH_CREDENTIAL_CACHE_TTL", h.CredentialCacheTTL, 0, maxCredCacheTTL)
}

func (r RateLimit) validate(e *Error) {
	if r.LoginPerMinute < 0 {
		e.add("AUTH_LOGIN_RATE_PER_MINUTE", "must be 0 (off) or more, got %d", r.LoginPerMinute)
	}
	if r.IPPerMinute < 0 {
		e.add("AUTH_IP_RATE_PER_MINUTE", "must be 0 (off) or more, got %d", r.IPPerMinute)
	}
}

func (l Log) validate(e *Error) {
	known := false
	for _, lv := range levels {
		known = known || lv == l.Level
	}
	if !known {
		e.add("AUTH_LOG_LEVEL", "must be one of debug, info, warn, error, got %q", l.Level.String())
	}
	if l.Format != "json" && l.Format != "text" {
		e.add("AUTH_LOG_FORMAT", "must be json or text, got %q", l.Format)
	}
}

func positive(e *Error, key string, d time.Duration) {
	if d <= 0 {
		e.add(key, "must be positive, got %s", fmtDuration(d))
	}
}

// between reports whether lo <= d <= hi, adding a problem when not.
func between(e *Error, key string, d, lo, hi time.Duration) bool {
	if d < lo || d > hi {
		e.add(key, "must be between %s and %s, got %s", fmtDuration(lo), fmtDuration(hi), fmtDuration(d))
		return false
	}
	return true
}

// fmtDuration drops zero units: "1h" rather than "1h0m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
