package config

import (
	"log/slog"
	"net/url"
	"strings"
)

// LogValue lets cmd log the whole configuration at start. The JWT secret
// shows as [redacted] and passwords in the database and Redis URLs as
// xxxxx; nothing else here is secret. Durations are written as in the
// configuration ("15m"), not as JSON nanoseconds.
func (c Config) LogValue() slog.Value {
	proxies := make([]string, len(c.HTTP.TrustedProxies))
	for i, p := range c.HTTP.TrustedProxies {
		proxies[i] = p.String()
	}
	return slog.GroupValue(
		slog.Group("http",
			"addr", c.HTTP.Addr,
			"read_timeout", fmtDuration(c.HTTP.ReadTimeout),
			"write_timeout", fmtDuration(c.HTTP.WriteTimeout),
			"idle_timeout", fmtDuration(c.HTTP.IdleTimeout),
			"shutdown_timeout", fmtDuration(c.HTTP.ShutdownTimeout),
			"cors_origins", c.HTTP.CORSOrigins,
			"trusted_proxies", proxies,
		),
		slog.Group("database",
			"url", redactURL(c.Database.URL),
			"max_open_conns", c.Database.MaxOpenConns,
			"max_idle_conns", c.Database.MaxIdleConns,
			"conn_max_lifetime", fmtDuration(c.Database.ConnMaxLifetime),
			"migrate_on_start", c.Database.MigrateOnStart,
		),
		slog.Group("redis", "url", redactURL(c.Redis.URL)),
		slog.Group("cache", "ttl", fmtDuration(c.Cache.TTL), "size_mb", c.Cache.SizeMB),
		slog.Group("jwt",
			"secret", c.JWT.Secret,
			"issuer", c.JWT.Issuer,
			"audience", c.JWT.Audience,
			"access_token_ttl", fmtDuration(c.JWT.AccessTokenTTL),
			"refresh_token_ttl", fmtDuration(c.JWT.RefreshTokenTTL),
			"refresh_reuse_interval", fmtDuration(c.JWT.RefreshReuseInterval),
		),
		slog.Group("hashing",
			"bcrypt_cost", c.Hashing.BcryptCost,
			"workers", c.Hashing.Workers,
			"max_wait", fmtDuration(c.Hashing.MaxWait),
			"credential_cache_ttl", fmtDuration(c.Hashing.CredentialCacheTTL),
		),
		slog.Group("rate_limit",
			"login_per_minute", c.RateLimit.LoginPerMinute,
			"ip_per_minute", c.RateLimit.IPPerMinute,
		),
		slog.Group("log", "level", c.Log.Level.String(), "format", c.Log.Format),
	)
}

// String and GoString print the LogValue form, so that printing a Config
// with any fmt verb hides its secrets too.
func (c Config) String() string   { return c.LogValue().String() }
func (c Config) GoString() string { return c.String() }

// redactURL hides the password of a URL, in its user part or in a
// "password" query parameter (libpq accepts both). A URL that does not
// parse is hidden whole, since where its password sits is unknown.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[redacted: unparseable URL]"
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			// Query() would drop the malformed pair and so print it as is.
			u.RawQuery = "[redacted]"
			return u.Redacted()
		}
		changed := false
		for k := range q {
			if strings.EqualFold(k, "password") {
				q[k] = []string{"xxxxx"}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
