package api_test

// Benchmarks of GET /auth/me through the real router (rest.Server.ServeHTTP
// with an httptest.ResponseRecorder: no sockets, so what is measured is
// authd's own work per request). Each wires its server here rather than
// through the package's test harness, so the figures depend on nothing but
// the adapters named. perf/results/go-bench.md holds the numbers and
// `go tool task perf:gobench` reproduces them.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"
	xbcrypt "golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/adapters/bcrypt"
	"github.com/authd/authd/adapters/jwt"
	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/adapters/readthrough"
	"github.com/authd/authd/adapters/redis"
	"github.com/authd/authd/adapters/rest"
	"github.com/authd/authd/app"
	"github.com/authd/authd/ports"
)

// BenchmarkMe is GET /auth/me as the embedded default serves it: memory
// stores behind readthrough over the in-process memory.Cache, so a warm
// request verifies the JWT and reads its session and user from the cache.
func BenchmarkMe(b *testing.B) {
	h, token := benchServer(b, func(ports.Clock) (ports.Cache, func() int64) {
		c := memory.NewCache(32<<10, ports.ClockFunc(time.Now))
		return c, func() int64 { return c.Stats().Hits }
	})
	benchGet(b, h, "/auth/me", token)
}

// BenchmarkMeNoCache reads the memory stores directly (AUTH_CACHE_TTL=0s
// on stores that cost nothing): the difference to BenchmarkMe is what the
// cache layer itself costs when the store is free.
func BenchmarkMeNoCache(b *testing.B) {
	h, token := benchServer(b, nil)
	benchGet(b, h, "/auth/me", token)
}

// BenchmarkMeRedis is variant (c) of perf/results/me-cache.md without the
// network in front: readthrough over Redis with rueidis client-side
// caching, every read answered from this process's memory. It needs
// AUTH_TEST_REDIS_URL and is skipped without it.
func BenchmarkMeRedis(b *testing.B) {
	url := os.Getenv("AUTH_TEST_REDIS_URL")
	if url == "" {
		b.Skip("AUTH_TEST_REDIS_URL is not set")
	}
	var rc *redis.Client
	h, token := benchServer(b, func(ports.Clock) (ports.Cache, func() int64) {
		var err error
		rc, err = redis.Open(context.Background(), redis.Options{URL: url, CacheSizeMB: 32, LocalTTL: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(rc.Close)
		prefix := "authd-bench:" + randomHex(6) + ":"
		b.Cleanup(func() { deleteKeys(b, url, prefix) })
		c := redis.NewCache(rc, prefix)
		return c, func() int64 { return c.Stats().LocalHits }
	})
	benchGet(b, h, "/auth/me", token)
}

// BenchmarkConstantEcho is the in-process ceiling: a bare Echo route that
// returns a constant JSON body the size of a user, through the same
// request and recorder as the benchmarks above. What BenchmarkMe costs
// beyond it is authd's own work.
func BenchmarkConstantEcho(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 291)
	e := echo.New()
	e.GET("/auth/me", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) })
	benchGet(b, e, "/auth/me", "unused")
}

// benchServer wires rest, app, jwt, bcrypt (MinCost) and memory stores as
// cmd/authd does; with newCache set, the stores sit behind readthrough over
// the cache it returns, whose hits counts the reads it answered. It
// registers and logs in one user and returns the handler and their access
// token, with the cache already warm.
func benchServer(b *testing.B, newCache func(ports.Clock) (ports.Cache, func() int64)) (http.Handler, string) {
	b.Helper()
	clock := ports.ClockFunc(time.Now)
	var (
		users    ports.UserStore    = memory.NewUserStore()
		sessions ports.SessionStore = memory.NewSessionStore()
		hits     func() int64
	)
	if newCache != nil {
		var cache ports.Cache
		cache, hits = newCache(clock)
		o := readthrough.Options{TTL: time.Minute}
		users = readthrough.NewUserStore(users, cache, o)
		sessions = readthrough.NewSessionStore(sessions, cache, o)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	tokens, err := jwt.NewIssuer(jwt.Options{Secret: secret, Issuer: "authd", Audience: "authd", TTL: 15 * time.Minute, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	limiter := memory.NewRateLimiter(clock)
	svc, err := app.New(context.Background(), app.Deps{
		Users: users, Sessions: sessions, Hasher: bcrypt.NewHasher(xbcrypt.MinCost),
		Tokens: tokens, Limiter: limiter, Clock: clock,
	}, app.Policy{AccessTTL: 15 * time.Minute, RefreshTTL: 168 * time.Hour, RefreshReuseInterval: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	// The IP limit is off, as in the load runs: it would answer 429 after
	// 600 requests.
	h := rest.NewServer(rest.Options{App: svc, Limiter: limiter})

	send(b, h, "POST", "/auth/register", "", `{"name":"Bench User","email":"bench@example.com","password":"strongpass123"}`, http.StatusCreated)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body := send(b, h, "POST", "/auth/login", "", `{"email":"bench@example.com","password":"strongpass123"}`, http.StatusOK)
	if err := json.Unmarshal(body, &tok); err != nil {
		b.Fatal(err)
	}
	// Fill the cache. Redis' adapter then reads its own fresh writes from
	// Redis for about 1.3 s (adapters/redis ownWriteWindow plus the call
	// timeout); wait that out so the benchmark sees local hits only.
	send(b, h, "GET", "/auth/me", tok.AccessToken, "", http.StatusOK)
	if newCache != nil {
		time.Sleep(1500 * time.Millisecond)
		before := hits()
		send(b, h, "GET", "/auth/me", tok.AccessToken, "", http.StatusOK)
		send(b, h, "GET", "/auth/me", tok.AccessToken, "", http.StatusOK)
		if got := hits() - before; got < 2 {
			b.Fatalf("a warm /auth/me made %d cache hits, want 2 (session and user)", got)
		}
		b.Cleanup(func() {
			// Per request: one session and one user read.
			b.Logf("cache hits per request during the run: %.2f", float64(hits()-before)/float64(b.N+2))
		})
	}
	return h, tok.AccessToken
}

func send(b *testing.B, h http.Handler, method, path, bearer, body string, want int) []byte {
	b.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
	}
	return rec.Body.Bytes()
}

// benchGet measures GET path with a bearer token, on one goroutine and
// with b.RunParallel (GOMAXPROCS goroutines).
func benchGet(b *testing.B, h http.Handler, path, token string) {
	b.Helper()
	newReq := func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.RemoteAddr = "127.0.0.1:40000"
		return req
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newReq())
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, newReq())
				if rec.Code != http.StatusOK {
					b.Errorf("%d %s", rec.Code, rec.Body)
					return
				}
			}
		})
	})
}

func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}

// deleteKeys removes what a benchmark left in Redis under prefix (the
// entries would expire within their minute anyway).
func deleteKeys(b *testing.B, url, prefix string) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		b.Error(err)
		return
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			b.Error(err)
			return
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				b.Error(err)
				return
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}
