// Package config loads authd's settings: built-in defaults, then an optional
// YAML file (--config FILE), then AUTH_* environment variables, each
// overriding the one before. It is the only package that imports viper, and
// only cmd/authd imports it: adapters get plain values.
//
// The environment variable names are the contract (API.md). In the YAML
// file each setting lives at the dotted path listed next to it in keys, e.g.
//
//	http:
//	  addr: 0.0.0.0:8000
//	hashing:
//	  bcrypt_cost: 12
//
// A problem is always reported against the AUTH_ name, wherever the value
// came from.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// Config is every setting of authd, typed and grouped by what it configures.
type Config struct {
	HTTP      HTTP
	Database  Database
	Redis     Redis
	Cache     Cache
	JWT       JWT
	Hashing   Hashing
	RateLimit RateLimit
	Log       Log
}

// HTTP configures the listener and the edge of the HTTP server.
type HTTP struct {
	Addr            string        // AUTH_HTTP_ADDR
	ReadTimeout     time.Duration // AUTH_HTTP_READ_TIMEOUT
	WriteTimeout    time.Duration // AUTH_HTTP_WRITE_TIMEOUT
	IdleTimeout     time.Duration // AUTH_HTTP_IDLE_TIMEOUT
	ShutdownTimeout time.Duration // AUTH_SHUTDOWN_TIMEOUT
	// CORSOrigins are lower-cased "scheme://host[:port]" origins
	// (AUTH_CORS_ORIGINS); empty allows no cross-origin access.
	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (AUTH_TRUSTED_PROXIES); a bare address becomes a single-address prefix.
	TrustedProxies []netip.Prefix
}

// Database configures the store and its connection pool.
type Database struct {
	// URL is postgres://, postgresql://, sqlite://PATH or sqlite::memory:
	// (AUTH_DATABASE_URL). It may hold a password: log Config, not URL.
	URL             string
	MaxOpenConns    int           // AUTH_DB_MAX_OPEN_CONNS
	MaxIdleConns    int           // AUTH_DB_MAX_IDLE_CONNS; defaults to MaxOpenConns
	ConnMaxLifetime time.Duration // AUTH_DB_CONN_MAX_LIFETIME; 0 keeps connections forever
	MigrateOnStart  bool          // AUTH_MIGRATE_ON_START
}

// Redis configures the optional shared cache.
type Redis struct {
	// URL is redis://, rediss:// or unix:// (AUTH_REDIS_URL); empty means an
	// in-process cache only. It may hold a password.
	URL string
}

// Cache configures caching of sessions and users.
type Cache struct {
	// TTL bounds how long a cached session or user may be served without
	// an invalidation reaching it (AUTH_CACHE_TTL). 0 turns caching off:
	// every authenticated request reads the database (a benchmark baseline,
	// or for operators who want no cache at all).
	TTL    time.Duration
	SizeMB int // AUTH_CACHE_SIZE_MB: the in-process cache's size
}

// JWT configures access and refresh tokens.
type JWT struct {
	// Secret is the HS256 key (AUTH_JWT_SECRET). Empty means cmd makes a
	// random one per start, which logs everyone out at every restart and
	// cannot be shared between instances.
	Secret               Secret
	Issuer               string        // AUTH_JWT_ISSUER
	Audience             string        // AUTH_JWT_AUDIENCE
	AccessTokenTTL       time.Duration // AUTH_ACCESS_TOKEN_TTL
	RefreshTokenTTL      time.Duration // AUTH_REFRESH_TOKEN_TTL
	RefreshReuseInterval time.Duration // AUTH_REFRESH_REUSE_INTERVAL; 0 disables the grace
}

// Hashing configures password hashing, the service's costliest work.
type Hashing struct {
	BcryptCost int // AUTH_BCRYPT_COST
	// Workers is how many hashes may run at once (AUTH_HASH_WORKERS).
	Workers int
	// MaxWait is how long a request may expect to queue for a worker before
	// it is refused with 503 (AUTH_HASH_MAX_WAIT).
	MaxWait time.Duration
	// CredentialCacheTTL is how long a verified password may be remembered
	// to skip bcrypt on the next login (AUTH_CREDENTIAL_CACHE_TTL); 0 is off.
	CredentialCacheTTL time.Duration
}

// RateLimit configures throttling; 0 turns a limit off.
type RateLimit struct {
	LoginPerMinute int // AUTH_LOGIN_RATE_PER_MINUTE: failed logins per account and address
	IPPerMinute    int // AUTH_IP_RATE_PER_MINUTE: /auth/* requests per address
}

// Log configures the process logger.
type Log struct {
	Level  slog.Level // AUTH_LOG_LEVEL: debug, info, warn or error
	Format string     // AUTH_LOG_FORMAT: json or text
}

// Secret is a configuration value that never prints: String, GoString,
// MarshalText and LogValue say [redacted] (or nothing when it is empty).
type Secret string

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string               { return s.redacted() }
func (s Secret) GoString() string             { return s.redacted() }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.redacted()) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Problem is one bad setting. Key is the AUTH_ variable, or "--config" for
// the file itself.
type Problem struct {
	Key     string
	Message string
}

// Error reports every bad setting at once, one per line as "KEY: message",
// so an operator fixes them in one go. cmd exits with status 2 on it.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Key + ": " + p.Message
	}
	return strings.Join(lines, "\n")
}

func (e *Error) add(key, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// err returns e when it holds a problem and nil otherwise, so that no typed
// nil *Error ever reaches an error interface.
func (e *Error) err() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// key is one setting: its environment variable, its path in the YAML file,
// its default and how to decode a raw value (a string from the environment,
// whatever YAML produced, or the default) into the Config it is bound to.
type key struct {
	env    string
	path   string
	def    any // nil: no default; see database.max_idle_conns
	decode func(raw any) error
}

// keys lists every setting, bound to c.
func (c *Config) keys() []key {
	// Sized for the machine. GOMAXPROCS rather than NumCPU: since Go 1.25
	// it follows the container's CPU limit, and more hashing workers or
	// connections than usable cores only queue inside the runtime.
	procs := runtime.GOMAXPROCS(0)
	return []key{
		{"AUTH_HTTP_ADDR", "http.addr", "127.0.0.1:8000", str(&c.HTTP.Addr)},
		{"AUTH_HTTP_READ_TIMEOUT", "http.read_timeout", 10 * time.Second, duration(&c.HTTP.ReadTimeout)},
		{"AUTH_HTTP_WRITE_TIMEOUT", "http.write_timeout", 15 * time.Second, duration(&c.HTTP.WriteTimeout)},
		{"AUTH_HTTP_IDLE_TIMEOUT", "http.idle_timeout", 60 * time.Second, duration(&c.HTTP.IdleTimeout)},
		{"AUTH_SHUTDOWN_TIMEOUT", "http.shutdown_timeout", 15 * time.Second, duration(&c.HTTP.ShutdownTimeout)},
		{"AUTH_CORS_ORIGINS", "http.cors_origins", "", origins(&c.HTTP.CORSOrigins)},
		{"AUTH_TRUSTED_PROXIES", "http.trusted_proxies", "", prefixes(&c.HTTP.TrustedProxies)},

		{"AUTH_DATABASE_URL", "database.url", "sqlite://data/authd.db", str(&c.Database.URL)},
		{"AUTH_DB_MAX_OPEN_CONNS", "database.max_open_conns", max(4, 4*procs), integer(&c.Database.MaxOpenConns)},
		// No default: it follows max_open_conns unless set (see Load). A
		// fixed default could exceed a lowered max_open_conns.
		{"AUTH_DB_MAX_IDLE_CONNS", "database.max_idle_conns", nil, integer(&c.Database.MaxIdleConns)},
		{"AUTH_DB_CONN_MAX_LIFETIME", "database.conn_max_lifetime", 30 * time.Minute, duration(&c.Database.ConnMaxLifetime)},
		{"AUTH_MIGRATE_ON_START", "database.migrate_on_start", true, boolean(&c.Database.MigrateOnStart)},

		{"AUTH_REDIS_URL", "redis.url", "", str(&c.Redis.URL)},
		{"AUTH_CACHE_TTL", "cache.ttl", 60 * time.Second, duration(&c.Cache.TTL)},
		{"AUTH_CACHE_SIZE_MB", "cache.size_mb", 32, integer(&c.Cache.SizeMB)},

		{"AUTH_JWT_SECRET", "jwt.secret", "", secret(&c.JWT.Secret)},
		{"AUTH_JWT_ISSUER", "jwt.issuer", "authd", str(&c.JWT.Issuer)},
		{"AUTH_JWT_AUDIENCE", "jwt.audience", "authd", str(&c.JWT.Audience)},
		{"AUTH_ACCESS_TOKEN_TTL", "jwt.access_token_ttl", 15 * time.Minute, duration(&c.JWT.AccessTokenTTL)},
		{"AUTH_REFRESH_TOKEN_TTL", "jwt.refresh_token_ttl", 168 * time.Hour, duration(&c.JWT.RefreshTokenTTL)},
		{"AUTH_REFRESH_REUSE_INTERVAL", "jwt.refresh_reuse_interval", 10 * time.Second, duration(&c.JWT.RefreshReuseInterval)},

		{"AUTH_BCRYPT_COST", "hashing.bcrypt_cost", 10, integer(&c.Hashing.BcryptCost)},
		{"AUTH_HASH_WORKERS", "hashing.workers", procs, integer(&c.Hashing.Workers)},
		{"AUTH_HASH_MAX_WAIT", "hashing.max_wait", 2 * time.Second, duration(&c.Hashing.MaxWait)},
		{"AUTH_CREDENTIAL_CACHE_TTL", "hashing.credential_cache_ttl", time.Duration(0), duration(&c.Hashing.CredentialCacheTTL)},

		{"AUTH_LOGIN_RATE_PER_MINUTE", "rate_limit.login_per_minute", 10, integer(&c.RateLimit.LoginPerMinute)},
		{"AUTH_IP_RATE_PER_MINUTE", "rate_limit.ip_per_minute", 600, integer(&c.RateLimit.IPPerMinute)},

		{"AUTH_LOG_LEVEL", "log.level", "info", level(&c.Log.Level)},
		{"AUTH_LOG_FORMAT", "log.format", "json", str(&c.Log.Format)},
	}
}

// Load returns the configuration and args without the --config flag, so
// cmd can parse the rest. Settings come from defaults, then the YAML file
// named by "--config FILE" or "--config=FILE" (one dash works too) anywhere
// before a "--", then getenv("AUTH_…"), each overriding the one before. An
// empty variable counts as unset. getenv is a parameter, not os.Getenv, so
// tests and e2e runs pass their own.
//
// Every failure is a *Error listing every problem found: an unreadable or
// unknown file, unknown settings in it, values that do not parse and values
// that Validate refuses.
func Load(args []string, getenv func(string) string) (Config, []string, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	problems := &Error{}
	file, rest := splitConfigFlag(args, problems)

	var c Config
	keys := c.keys()
	v := viper.New() // never viper's global instance
	if file != "" {
		readFile(v, file, keys, problems)
	}
	for _, k := range keys {
		if k.def != nil {
			v.SetDefault(k.path, k.def)
		}
		if s := getenv(k.env); s != "" {
			v.Set(k.path, s)
		}
	}

	// Each key is decoded on its own instead of through v.Unmarshal, so a
	// bad value is reported against its AUTH_ name rather than as a
	// mapstructure message about a Go field path.
	failed := map[string]bool{}
	for _, k := range keys {
		raw := v.Get(k.path)
		if raw == nil {
			// A file's "http: 5" hides the defaults under http; that is
			// reported once, as a file problem, not as every key in it.
			raw = k.def
		}
		if raw == nil {
			continue
		}
		if err := k.decode(raw); err != nil {
			problems.add(k.env, "%s", err)
			failed[k.env] = true
		}
	}
	if !v.IsSet("database.max_idle_conns") {
		c.Database.MaxIdleConns = c.Database.MaxOpenConns
	}

	// A value that did not parse was left at zero; Validate's complaint
	// about that zero would only repeat the problem.
	var verr *Error
	if errors.As(c.Validate(), &verr) {
		for _, p := range verr.Problems {
			if !failed[p.Key] {
				problems.Problems = append(problems.Problems, p)
			}
		}
	}
	if err := problems.err(); err != nil {
		// In the order of the keys table, file problems first, so that
		// related settings stay together in the report.
		order := map[string]int{"--config": -1}
		for i, k := range keys {
			order[k.env] = i
		}
		slices.SortStableFunc(problems.Problems, func(a, b Problem) int { return order[a.Key] - order[b.Key] })
		return Config{}, nil, err
	}
	return c, rest, nil
}

// splitConfigFlag takes the --config flag out of args.
func splitConfigFlag(args []string, problems *Error) (file string, rest []string) {
	rest = make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		if name != "--config" && name != "-config" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				problems.add("--config", "needs a file name")
				continue
			}
			i++
			value = args[i]
		}
		switch {
		case value == "":
			problems.add("--config", "needs a file name")
		case file != "":
			problems.add("--config", "given more than once (%s, %s)", file, value)
		default:
			file = value
		}
	}
	return file, rest
}

// readFile reads the YAML file into v and reports settings it does not
// know: a misspelt key would otherwise be ignored without a word.
func readFile(v *viper.Viper, file string, keys []key, problems *Error) {
	v.SetConfigFile(file)
	v.SetConfigType("yaml") // whatever the file's extension
	if err := v.ReadInConfig(); err != nil {
		problems.add("--config", "cannot read %s: %s", file, unwrapAll(err))
		return
	}
	known := make(map[string]bool, len(keys))
	sections := map[string]bool{}
	for _, k := range keys {
		known[k.path] = true
		sections[k.path[:strings.IndexByte(k.path, '.')]] = true
	}
	for _, path := range v.AllKeys() { // only the file's keys: no defaults set yet
		switch {
		case known[path], underKnown(path, known):
			// A value of the wrong shape under a known key ("addr: {a: b}")
			// is the decoder's to report, against the AUTH_ name.
		case sections[path]:
			// "http:" left empty is harmless; "http: 5" is not.
			if v.Get(path) != nil {
				problems.add("--config", "%s: %q must be a section of settings", file, path)
			}
		default:
			problems.add("--config", "%s: unknown setting %q", file, path)
		}
	}
}

func underKnown(path string, known map[string]bool) bool {
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if known[path[:i]] {
			return true
		}
	}
	return false
}

// unwrapAll keeps the innermost message ("no such file or directory"), the
// part an operator can act on.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// Decoders. Each accepts what the environment gives (a string), what YAML
// gives (string, int, bool, list) and the default's own type. Their errors
// become the message after "AUTH_X: ".

func str(dst *string) func(any) error {
	return func(raw any) error {
		s, err := scalar(raw)
		*dst = strings.TrimSpace(s)
		return err
	}
}

func secret(dst *Secret) func(any) error {
	return func(raw any) error {
		// Not trimmed: a secret is used byte for byte. Not echoed on error.
		s, ok := raw.(string)
		if !ok {
			return errors.New("must be a string")
		}
		*dst = Secret(s)
		return nil
	}
}

func integer(dst *int) func(any) error {
	return func(raw any) error {
		switch x := raw.(type) {
		case int:
			*dst = x
			return nil
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return fmt.Errorf("must be a whole number, got %q", x)
			}
			*dst = n
			return nil
		}
		return fmt.Errorf("must be a whole number, got %v", raw)
	}
}

func duration(dst *time.Duration) func(any) error {
	return func(raw any) error {
		switch x := raw.(type) {
		case time.Duration:
			*dst = x
			return nil
		case int:
			// 0 means the same in every unit; any other bare number is
			// ambiguous (seconds? nanoseconds?).
			if x == 0 {
				*dst = 0
				return nil
			}
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(x))
			if err != nil {
				return fmt.Errorf("must be a Go duration such as 10s, 15m or 168h, got %q", x)
			}
			*dst = d
			return nil
		}
		return fmt.Errorf("must be a Go duration such as 10s, 15m or 168h, got %v", raw)
	}
}

func boolean(dst *bool) func(any) error {
	return func(raw any) error {
		switch x := raw.(type) {
		case bool:
			*dst = x
			return nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", x)
			}
			*dst = b
			return nil
		}
		return fmt.Errorf("must be true or false, got %v", raw)
	}
}

var levels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

func level(dst *slog.Level) func(any) error {
	return func(raw any) error {
		s, err := scalar(raw)
		if err != nil {
			return err
		}
		l, ok := levels[strings.ToLower(strings.TrimSpace(s))]
		if !ok {
			return fmt.Errorf("must be one of debug, info, warn, error, got %q", s)
		}
		*dst = l
		return nil
	}
}

// origins splits the list; Validate checks each origin. Origins are
// lower-cased because browsers send them so and the match is exact.
func origins(dst *[]string) func(any) error {
	return func(raw any) error {
		items, err := list(raw)
		for i, s := range items {
			items[i] = strings.ToLower(s)
		}
		*dst = items
		return err
	}
}

func prefixes(dst *[]netip.Prefix) func(any) error {
	return func(raw any) error {
		items, err := list(raw)
		if err != nil {
			return err
		}
		var bad []string
		out := make([]netip.Prefix, 0, len(items))
		for _, s := range items {
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p.Masked())
			} else if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			} else {
				bad = append(bad, strconv.Quote(s))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("must be CIDRs or IP addresses separated by commas; not one: %s", strings.Join(bad, ", "))
		}
		*dst = out
		return nil
	}
}

// list reads a comma-separated string or a YAML sequence of strings,
// dropping empty items (so "" is an empty list and a trailing comma is
// harmless).
func list(raw any) ([]string, error) {
	var parts []string
	switch x := raw.(type) {
	case string:
		parts = strings.Split(x, ",")
	case []any:
		for _, item := range x {
			s, err := scalar(item)
			if err != nil {
				return nil, errors.New("must be a list of strings")
			}
			parts = append(parts, s)
		}
	case []string:
		parts = x
	default:
		return nil, fmt.Errorf("must be a comma-separated list, got %v", raw)
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// scalar turns a YAML scalar into its text, so "issuer: 123" is "123".
func scalar(raw any) (string, error) {
	switch x := raw.(type) {
	case string:
		return x, nil
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x), nil
	}
	return "", errors.New("must be a single value, not a list or a section")
}
