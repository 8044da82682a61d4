package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authd.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, args []string, vars map[string]string) config.Config {
	t.Helper()
	c, _, err := config.Load(args, env(vars))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// problems returns the *config.Error in err, failing the test if there is none.
func problems(t *testing.T, err error) *config.Error {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load error = %v (%T), want a *config.Error", err, err)
	}
	return ce
}

func defaults() config.Config {
	procs := runtime.GOMAXPROCS(0)
	return config.Config{
		HTTP: config.HTTP{
			Addr: "127.0.0.1:8000", ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second,
			IdleTimeout: 60 * time.Second, ShutdownTimeout: 15 * time.Second,
			CORSOrigins: []string{}, TrustedProxies: []netip.Prefix{},
		},
		Database: config.Database{
			URL: "sqlite://data/authd.db", MaxOpenConns: max(4, 4*procs), MaxIdleConns: max(4, 4*procs),
			ConnMaxLifetime: 30 * time.Minute, MigrateOnStart: true,
		},
		Cache: config.Cache{TTL: time.Minute, SizeMB: 32},
		JWT: config.JWT{
			Issuer: "authd", Audience: "authd", AccessTokenTTL: 15 * time.Minute,
			RefreshTokenTTL: 168 * time.Hour, RefreshReuseInterval: 10 * time.Second,
		},
		Hashing:   config.Hashing{BcryptCost: 10, Workers: procs, MaxWait: 2 * time.Second},
		RateLimit: config.RateLimit{LoginPerMinute: 10, IPPerMinute: 600},
		Log:       config.Log{Level: slog.LevelInfo, Format: "json"},
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for name, getenv := range map[string]func(string) string{
		"empty getenv": env(nil),
		"nil getenv":   nil,
		// An empty variable is unset, not an empty value.
		"every variable empty": func(string) string { return "" },
	} {
		t.Run(name, func(t *testing.T) {
			got, rest, err := config.Load(nil, getenv)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := defaults(); !reflect.DeepEqual(got, want) {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
			if len(rest) != 0 {
				t.Errorf("rest = %q", rest)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("defaults do not validate: %v", err)
			}
		})
	}
}

func TestFileThenEnv(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
http:
  addr: 0.0.0.0:9000
  read_timeout: 5s
  cors_origins:
    - https://app.example.com
    - http://localhost:3000
  trusted_proxies: 10.0.0.0/8, 192.168.1.5
database:
  url: postgres://authd:filepass@db:5432/authd
  max_open_conns: 20
  migrate_on_start: false
hashing:
  bcrypt_cost: 12
  credential_cache_ttl: 0
jwt:
  issuer: from-file
  audience: from-file
log:
  level: debug
  format: text
`)
	got := load(t, []string{"serve", "--config", path}, map[string]string{
		"AUTH_HTTP_ADDR":         "127.0.0.1:7000",
		"AUTH_BCRYPT_COST":       "11",
		"AUTH_JWT_AUDIENCE":      "from-env",
		"AUTH_DB_MAX_IDLE_CONNS": "5",
		"AUTH_LOG_FORMAT":        "json",
	})
	want := defaults()
	want.HTTP.Addr = "127.0.0.1:7000"       // env over file
	want.HTTP.ReadTimeout = 5 * time.Second // file over default
	want.HTTP.CORSOrigins = []string{"https://app.example.com", "http://localhost:3000"}
	want.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.5/32")}
	want.Database.URL = "postgres://authd:filepass@db:5432/authd"
	want.Database.MaxOpenConns = 20
	want.Database.MaxIdleConns = 5 // env
	want.Database.MigrateOnStart = false
	want.Hashing.BcryptCost = 11 // env over file
	want.JWT.Issuer = "from-file"
	want.JWT.Audience = "from-env"
	want.Log = config.Log{Level: slog.LevelDebug, Format: "json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestIdleConnsFollowOpenConns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		vars     map[string]string
		wantIdle int
	}{
		{"open from env", "", map[string]string{"AUTH_DB_MAX_OPEN_CONNS": "3"}, 3},
		{"open from file", "database:\n  max_open_conns: 7\n", nil, 7},
		{"idle from file", "database:\n  max_idle_conns: 0\n", map[string]string{"AUTH_DB_MAX_OPEN_CONNS": "3"}, 0},
		{"idle from env", "", map[string]string{"AUTH_DB_MAX_OPEN_CONNS": "3", "AUTH_DB_MAX_IDLE_CONNS": "1"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var args []string
			if tc.file != "" {
				args = []string{"--config=" + writeFile(t, tc.file)}
			}
			if got := load(t, args, tc.vars).Database.MaxIdleConns; got != tc.wantIdle {
				t.Errorf("MaxIdleConns = %d, want %d", got, tc.wantIdle)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "jwt:\n  issuer: from-file\n")
	tests := []struct {
		name     string
		args     []string
		wantRest []string
		fromFile bool
	}{
		{"none", nil, []string{}, false},
		{"no config flag", []string{"create-admin", "--email", "a@b.co"}, []string{"create-admin", "--email", "a@b.co"}, false},
		{"separate value", []string{"--config", path, "serve"}, []string{"serve"}, true},
		{"equals", []string{"serve", "--config=" + path}, []string{"serve"}, true},
		{"single dash", []string{"migrate", "-config", path, "-x"}, []string{"migrate", "-x"}, true},
		{"after a double dash it is not ours", []string{"serve", "--", "--config", path}, []string{"serve", "--", "--config", path}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rest, err := config.Load(tc.args, env(nil))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !slices.Equal(rest, tc.wantRest) {
				t.Errorf("rest = %q, want %q", rest, tc.wantRest)
			}
			if got := c.JWT.Issuer == "from-file"; got != tc.fromFile {
				t.Errorf("file read = %v, want %v", got, tc.fromFile)
			}
		})
	}
}

func TestConfigFileProblems(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	tests := []struct {
		name    string
		args    func(t *testing.T) []string
		wantMsg string
	}{
		{"unknown path", func(*testing.T) []string { return []string{"--config", missing} }, "no such file"},
		{"a directory", func(t *testing.T) []string { return []string{"--config", t.TempDir()} }, "cannot read"},
		{"flag without value", func(*testing.T) []string { return []string{"serve", "--config"} }, "needs a file name"},
		{"empty value", func(*testing.T) []string { return []string{"--config="} }, "needs a file name"},
		{"given twice", func(t *testing.T) []string {
			p := writeFile(t, "")
			return []string{"--config", p, "--config", p}
		}, "more than once"},
		{"not YAML", func(t *testing.T) []string { return []string{"--config", writeFile(t, "http: [unclosed\n")} }, "cannot read"},
		{"unknown setting", func(t *testing.T) []string {
			return []string{"--config", writeFile(t, "hashing:\n  bcrypt_cots: 12\n")}
		}, `unknown setting "hashing.bcrypt_cots"`},
		{"unknown section", func(t *testing.T) []string {
			return []string{"--config", writeFile(t, "tls:\n  cert: x.pem\n")}
		}, `unknown setting "tls.cert"`},
		{"section given a value", func(t *testing.T) []string {
			return []string{"--config", writeFile(t, "http: 5\n")}
		}, `"http" must be a section`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := config.Load(tc.args(t), env(nil))
			ce := problems(t, err)
			if len(ce.Problems) != 1 || ce.Problems[0].Key != "--config" {
				t.Fatalf("problems = %+v, want one about --config", ce.Problems)
			}
			if !strings.Contains(ce.Problems[0].Message, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", ce.Problems[0].Message, tc.wantMsg)
			}
		})
	}
}

func TestEmptySectionIsFine(t *testing.T) {
	t.Parallel()
	got := load(t, []string{"--config", writeFile(t, "http:\njwt:\n  issuer: x\n")}, nil)
	if got.JWT.Issuer != "x" || got.HTTP.Addr != "127.0.0.1:8000" {
		t.Errorf("got %+v", got)
	}
}

// badValues holds, for every AUTH_ variable, values that must be refused
// with a problem naming exactly that variable.
var badValues = []struct {
	key     string
	value   string
	also    map[string]string // other variables, valid on their own
	wantMsg string
	secret  string // must not appear in the error
}{
	{key: "AUTH_HTTP_ADDR", value: "localhost", wantMsg: "host:port"},
	{key: "AUTH_HTTP_ADDR", value: "127.0.0.1:99999", wantMsg: "port must be a number from 0 to 65535"},
	{key: "AUTH_HTTP_ADDR", value: "127.0.0.1:http", wantMsg: "port must be a number"},
	{key: "AUTH_HTTP_READ_TIMEOUT", value: "abc", wantMsg: `must be a Go duration such as 10s, 15m or 168h, got "abc"`},
	{key: "AUTH_HTTP_READ_TIMEOUT", value: "0s", wantMsg: "must be positive, got 0s"},
	{key: "AUTH_HTTP_WRITE_TIMEOUT", value: "-1s", wantMsg: "must be positive"},
	{key: "AUTH_HTTP_IDLE_TIMEOUT", value: "10", wantMsg: "Go duration"},
	{key: "AUTH_SHUTDOWN_TIMEOUT", value: "0", wantMsg: "must be positive"},
	{key: "AUTH_CORS_ORIGINS", value: "https://app.example.com/path", wantMsg: "without path"},
	{key: "AUTH_CORS_ORIGINS", value: "https://ok.example.com, https://app.example.com/, *, ftp://files.example.com", wantMsg: `"https://app.example.com/", "*", "ftp://files.example.com"`},
	{key: "AUTH_CORS_ORIGINS", value: "https://user:pw@app.example.com", wantMsg: "http(s) origin"},
	{key: "AUTH_CORS_ORIGINS", value: "https://app.example.com?x=1", wantMsg: "http(s) origin"},
	{key: "AUTH_TRUSTED_PROXIES", value: "10.0.0.0/33", wantMsg: `"10.0.0.0/33"`},
	{key: "AUTH_TRUSTED_PROXIES", value: "10.0.0.1, proxy.internal", wantMsg: `not one: "proxy.internal"`},
	{key: "AUTH_DATABASE_URL", value: "mysql://root:hunter2@db/authd", wantMsg: `got scheme "mysql"`, secret: "hunter2"},
	{key: "AUTH_DATABASE_URL", value: "sqlite://", wantMsg: "needs a file path"},
	{key: "AUTH_DATABASE_URL", value: "data/authd.db", wantMsg: "must be postgres://"},
	{key: "AUTH_DATABASE_URL", value: "postgres://authd:p#ss@db/authd", wantMsg: "not a valid URL", secret: "p#ss"},
	{key: "AUTH_DATABASE_URL", value: "host=db password=hunter2", wantMsg: "must be postgres://", secret: "hunter2"},
	{key: "AUTH_DB_MAX_OPEN_CONNS", value: "0", wantMsg: "must be at least 1, got 0"},
	{key: "AUTH_DB_MAX_OPEN_CONNS", value: "many", wantMsg: `must be a whole number, got "many"`},
	{key: "AUTH_DB_MAX_IDLE_CONNS", value: "-1", wantMsg: "must be between 0 and AUTH_DB_MAX_OPEN_CONNS"},
	{key: "AUTH_DB_MAX_IDLE_CONNS", value: "5", also: map[string]string{"AUTH_DB_MAX_OPEN_CONNS": "4"}, wantMsg: "(4), got 5"},
	{key: "AUTH_DB_CONN_MAX_LIFETIME", value: "-1m", wantMsg: "must not be negative"},
	{key: "AUTH_MIGRATE_ON_START", value: "maybe", wantMsg: `must be true or false, got "maybe"`},
	{key: "AUTH_REDIS_URL", value: "http://cache:6379", wantMsg: `got scheme "http"`},
	{key: "AUTH_REDIS_URL", value: "memcached://:s3cret@cache", wantMsg: `got scheme "memcached"`, secret: "s3cret"},
	{key: "AUTH_REDIS_URL", value: "redis://", wantMsg: "needs a host"},
	{key: "AUTH_REDIS_URL", value: "redis://:p%zzss@cache:6379", wantMsg: "not a valid URL", secret: "p%zzss"},
	{key: "AUTH_CACHE_TTL", value: "500ms", wantMsg: "must be between 1s and 1h, got 500ms"},
	{key: "AUTH_CACHE_TTL", value: "-1s", wantMsg: "got -1s"},
	{key: "AUTH_CACHE_TTL", value: "2h", wantMsg: "got 2h"},
	{key: "AUTH_CACHE_SIZE_MB", value: "0", wantMsg: "must be between 1 and 4096, got 0"},
	{key: "AUTH_CACHE_SIZE_MB", value: "4097", wantMsg: "got 4097"},
	{key: "AUTH_JWT_SECRET", value: "tooshort-secret", wantMsg: "must be at least 32 bytes when set, got 15", secret: "tooshort-secret"},
	{key: "AUTH_JWT_SECRET", value: strings.Repeat("x", 31), wantMsg: "got 31"},
	{key: "AUTH_JWT_ISSUER", value: "   ", wantMsg: "must not be empty"},
	{key: "AUTH_JWT_AUDIENCE", value: " \t", wantMsg: "must not be empty"},
	{key: "AUTH_ACCESS_TOKEN_TTL", value: "abc", wantMsg: `got "abc"`},
	{key: "AUTH_ACCESS_TOKEN_TTL", value: "48h", wantMsg: "must be between 1s and 24h, got 48h"},
	{key: "AUTH_ACCESS_TOKEN_TTL", value: "0s", wantMsg: "got 0s"},
	{key: "AUTH_REFRESH_TOKEN_TTL", value: "10m", wantMsg: "must be longer than AUTH_ACCESS_TOKEN_TTL (15m), got 10m"},
	{key: "AUTH_REFRESH_TOKEN_TTL", value: "15m", wantMsg: "longer than"},
	{key: "AUTH_REFRESH_TOKEN_TTL", value: "9000h", wantMsg: "must be at most 8760h"},
	{key: "AUTH_REFRESH_TOKEN_TTL", value: "1w", wantMsg: "Go duration"},
	{key: "AUTH_REFRESH_REUSE_INTERVAL", value: "-1s", wantMsg: "at least 0s"},
	{key: "AUTH_REFRESH_REUSE_INTERVAL", value: "15m", wantMsg: "less than AUTH_ACCESS_TOKEN_TTL (15m), got 15m"},
	{key: "AUTH_REFRESH_REUSE_INTERVAL", value: "30s", also: map[string]string{"AUTH_ACCESS_TOKEN_TTL": "20s"}, wantMsg: "(20s), got 30s"},
	{key: "AUTH_BCRYPT_COST", value: "9", wantMsg: "must be between 10 and 14, got 9"},
	{key: "AUTH_BCRYPT_COST", value: "15", wantMsg: "got 15"},
	{key: "AUTH_BCRYPT_COST", value: "ten", wantMsg: "whole number"},
	{key: "AUTH_HASH_WORKERS", value: "0", wantMsg: "must be between 1 and 256, got 0"},
	{key: "AUTH_HASH_WORKERS", value: "257", wantMsg: "got 257"},
	{key: "AUTH_HASH_MAX_WAIT", value: "0s", wantMsg: "must be positive"},
	{key: "AUTH_HASH_MAX_WAIT", value: "2", wantMsg: "Go duration"},
	{key: "AUTH_CREDENTIAL_CACHE_TTL", value: "25h", wantMsg: "must be between 0s and 24h, got 25h"},
	{key: "AUTH_CREDENTIAL_CACHE_TTL", value: "-1s", wantMsg: "got -1s"},
	{key: "AUTH_LOGIN_RATE_PER_MINUTE", value: "-1", wantMsg: "must be 0 (off) or more, got -1"},
	{key: "AUTH_LOGIN_RATE_PER_MINUTE", value: "1.5", wantMsg: "whole number"},
	{key: "AUTH_IP_RATE_PER_MINUTE", value: "-5", wantMsg: "got -5"},
	{key: "AUTH_LOG_LEVEL", value: "verbose", wantMsg: `must be one of debug, info, warn, error, got "verbose"`},
	{key: "AUTH_LOG_LEVEL", value: "info+2", wantMsg: "must be one of"},
	{key: "AUTH_LOG_FORMAT", value: "xml", wantMsg: `must be json or text, got "xml"`},
}

func TestBadValue(t *testing.T) {
	t.Parallel()
	for _, tc := range badValues {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{tc.key: tc.value}
			for k, v := range tc.also {
				vars[k] = v
			}
			c, rest, err := config.Load([]string{"serve"}, env(vars))
			ce := problems(t, err)
			if len(ce.Problems) != 1 || ce.Problems[0].Key != tc.key {
				t.Fatalf("problems = %+v, want exactly one, about %s", ce.Problems, tc.key)
			}
			if msg := ce.Problems[0].Message; !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", msg, tc.wantMsg)
			}
			line := err.Error()
			if !strings.HasPrefix(line, tc.key+": ") || strings.Contains(line, "\n") {
				t.Errorf("Error() = %q, want one line starting %q", line, tc.key+": ")
			}
			if tc.secret != "" && strings.Contains(line, tc.secret) {
				t.Errorf("Error() = %q leaks %q", line, tc.secret)
			}
			if !reflect.DeepEqual(c, config.Config{}) || rest != nil {
				t.Errorf("Load returned %+v, %q with its error", c, rest)
			}
		})
	}
}

func TestEveryKeyHasABadValue(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range badValues {
		covered[tc.key] = true
	}
	for _, k := range config.EnvNames() {
		if !covered[k] {
			t.Errorf("%s has no row in badValues", k)
		}
	}
}

// TestBadValueInFile: a bad value from the file is named by its AUTH_
// variable too, and YAML's own types are checked.
func TestBadValueInFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		wantKey string
		wantMsg string
	}{
		{"cost too low", "hashing:\n  bcrypt_cost: 9\n", "AUTH_BCRYPT_COST", "must be between 10 and 14, got 9"},
		{"cost as a float", "hashing:\n  bcrypt_cost: 10.5\n", "AUTH_BCRYPT_COST", "whole number"},
		{"duration as a bare number", "jwt:\n  access_token_ttl: 900\n", "AUTH_ACCESS_TOKEN_TTL", "Go duration"},
		{"empty issuer", "jwt:\n  issuer: \"\"\n", "AUTH_JWT_ISSUER", "must not be empty"},
		{"bool as a word", "database:\n  migrate_on_start: sometimes\n", "AUTH_MIGRATE_ON_START", "true or false"},
		{"list with a bad origin", "http:\n  cors_origins: [https://ok.example.com, https://bad.example.com/x]\n", "AUTH_CORS_ORIGINS", "https://bad.example.com/x"},
		{"list where one value is expected", "http:\n  addr: [a, b]\n", "AUTH_HTTP_ADDR", "single value"},
		{"section where a list is expected", "http:\n  trusted_proxies:\n    a: b\n", "AUTH_TRUSTED_PROXIES", "comma-separated list"},
		{"number as a secret", "jwt:\n  secret: 12345678901234567890123456789012345\n", "AUTH_JWT_SECRET", "must be a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := config.Load([]string{"--config", writeFile(t, tc.yaml)}, env(nil))
			ce := problems(t, err)
			if len(ce.Problems) != 1 || ce.Problems[0].Key != tc.wantKey {
				t.Fatalf("problems = %+v, want exactly one, about %s", ce.Problems, tc.wantKey)
			}
			if !strings.Contains(ce.Problems[0].Message, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", ce.Problems[0].Message, tc.wantMsg)
			}
		})
	}
}

func TestSeveralProblemsAreAllReported(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	_, _, err := config.Load([]string{"--config", missing}, env(map[string]string{
		"AUTH_BCRYPT_COST":      "9",
		"AUTH_ACCESS_TOKEN_TTL": "abc",
		"AUTH_LOG_FORMAT":       "xml",
		"AUTH_JWT_SECRET":       "short",
		"AUTH_DATABASE_URL":     "mysql://x",
	}))
	ce := problems(t, err)
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
	}
	want := []string{"--config", "AUTH_DATABASE_URL", "AUTH_JWT_SECRET", "AUTH_ACCESS_TOKEN_TTL", "AUTH_BCRYPT_COST", "AUTH_LOG_FORMAT"}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("problem keys = %q, want %q", keys, want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("Error() has %d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i, p := range ce.Problems {
		if lines[i] != p.Key+": "+p.Message {
			t.Errorf("line %d = %q", i, lines[i])
		}
	}
}

func TestGoodValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vars  map[string]string
		check func(c config.Config) bool
	}{
		{"any port", map[string]string{"AUTH_HTTP_ADDR": ":0"}, func(c config.Config) bool { return c.HTTP.Addr == ":0" }},
		{"ipv6 listen", map[string]string{"AUTH_HTTP_ADDR": "[::1]:8000"}, func(c config.Config) bool { return c.HTTP.Addr == "[::1]:8000" }},
		{"postgres", map[string]string{"AUTH_DATABASE_URL": "postgres://u:p@h:5432/db?sslmode=disable"}, func(c config.Config) bool {
			return c.Database.URL == "postgres://u:p@h:5432/db?sslmode=disable"
		}},
		{"postgresql", map[string]string{"AUTH_DATABASE_URL": "postgresql://h/db"}, func(c config.Config) bool { return c.Database.URL == "postgresql://h/db" }},
		{"sqlite memory", map[string]string{"AUTH_DATABASE_URL": "sqlite::memory:"}, func(c config.Config) bool { return c.Database.URL == "sqlite::memory:" }},
		{"sqlite absolute", map[string]string{"AUTH_DATABASE_URL": "sqlite:///var/lib/authd/authd.db"}, func(c config.Config) bool {
			return c.Database.URL == "sqlite:///var/lib/authd/authd.db"
		}},
		{"redis", map[string]string{"AUTH_REDIS_URL": "redis://:pw@127.0.0.1:6379/0"}, func(c config.Config) bool { return c.Redis.URL == "redis://:pw@127.0.0.1:6379/0" }},
		{"rediss", map[string]string{"AUTH_REDIS_URL": "rediss://cache.internal:6380"}, func(c config.Config) bool { return c.Redis.URL != "" }},
		{"no migrations", map[string]string{"AUTH_MIGRATE_ON_START": "false"}, func(c config.Config) bool { return !c.Database.MigrateOnStart }},
		{"cache off", map[string]string{"AUTH_CACHE_TTL": "0s"}, func(c config.Config) bool { return c.Cache.TTL == 0 }},
		{"no reuse grace", map[string]string{"AUTH_REFRESH_REUSE_INTERVAL": "0s"}, func(c config.Config) bool { return c.JWT.RefreshReuseInterval == 0 }},
		{"secret of 32 bytes, kept as is", map[string]string{"AUTH_JWT_SECRET": " " + strings.Repeat("k", 30) + " "}, func(c config.Config) bool {
			return c.JWT.Secret.Reveal() == " "+strings.Repeat("k", 30)+" "
		}},
		{"limits off", map[string]string{"AUTH_LOGIN_RATE_PER_MINUTE": "0", "AUTH_IP_RATE_PER_MINUTE": "0"}, func(c config.Config) bool {
			return c.RateLimit == config.RateLimit{}
		}},
		{"cost 14, trimmed", map[string]string{"AUTH_BCRYPT_COST": " 14 "}, func(c config.Config) bool { return c.Hashing.BcryptCost == 14 }},
		{"credential cache on", map[string]string{"AUTH_CREDENTIAL_CACHE_TTL": "24h"}, func(c config.Config) bool { return c.Hashing.CredentialCacheTTL == 24*time.Hour }},
		{"level in capitals", map[string]string{"AUTH_LOG_LEVEL": "WARN"}, func(c config.Config) bool { return c.Log.Level == slog.LevelWarn }},
		{"origins normalised", map[string]string{"AUTH_CORS_ORIGINS": " https://App.Example.com, http://localhost:3000 ,,http://[::1]:8080"}, func(c config.Config) bool {
			return slices.Equal(c.HTTP.CORSOrigins, []string{"https://app.example.com", "http://localhost:3000", "http://[::1]:8080"})
		}},
		{"proxies", map[string]string{"AUTH_TRUSTED_PROXIES": "10.1.2.3/8, 192.168.1.5, ::1, fd00::/8"}, func(c config.Config) bool {
			return slices.Equal(c.HTTP.TrustedProxies, []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.5/32"),
				netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8"),
			})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if c := load(t, nil, tc.vars); !tc.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	t.Parallel()
	const jwtSecret = "jwt-secret-that-is-long-enough-0123456789"
	c := load(t, nil, map[string]string{
		"AUTH_JWT_SECRET":   jwtSecret,
		"AUTH_DATABASE_URL": "postgres://authd:dbpass123@db.internal:5432/authd?sslmode=disable&password=querypass456",
		"AUTH_REDIS_URL":    "redis://default:redispass789@cache.internal:6379/0",
	})
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("config", "config", c)
	}
	fmt.Fprintf(&buf, "%v %+v %#v %s", c, c, c, c.JWT.Secret)
	out := buf.String()
	for _, secret := range []string{jwtSecret, "dbpass123", "querypass456", "redispass789"} {
		if strings.Contains(out, secret) {
			t.Errorf("output leaks %q:\n%s", secret, out)
		}
	}
	// Still useful to an operator: where it connects, as whom.
	for _, visible := range []string{"authd:xxxxx@db.internal:5432", "default:xxxxx@", "cache.internal:6379", "bcrypt_cost", "[redacted]"} {
		if !strings.Contains(out, visible) {
			t.Errorf("log lacks %q:\n%s", visible, out)
		}
	}
}

func TestRedactUnparseableURL(t *testing.T) {
	t.Parallel()
	c := defaults()
	c.Database.URL = "postgres://authd:p#ss@db/authd" // invalid: # starts a fragment
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	if strings.Contains(buf.String(), "p#ss") || strings.Contains(buf.String(), "ss@db") {
		t.Errorf("log leaks the password of an unparseable URL: %s", buf.String())
	}
}

func TestValidateHandBuilt(t *testing.T) {
	t.Parallel()
	if err := defaults().Validate(); err != nil {
		t.Fatalf("Validate(defaults) = %v", err)
	}
	c := defaults()
	c.Hashing.BcryptCost = 9
	c.Log.Level = slog.Level(2)
	var ce *config.Error
	if !errors.As(c.Validate(), &ce) || len(ce.Problems) != 2 {
		t.Fatalf("Validate = %v, want two problems", c.Validate())
	}
	if got := ce.Problems[0].Key + ": " + ce.Problems[0].Message; got != "AUTH_BCRYPT_COST: must be between 10 and 14, got 9" {
		t.Errorf("problem = %q", got)
	}
}
