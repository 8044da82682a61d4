package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventually polls f until it returns true or the bound passes. Cross-
// instance invalidation is asynchronous (NOTES.md: a few milliseconds), so
// "the next request" on another instance is checked with a bound that
// fails a broken design without timing a healthy one.
func eventually(t *testing.T, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		if f() {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s: still not true after 2s", what)
	return 0
}

func TestTwoInstancesShareUpdatesAndRevocationThroughRedis(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	startOwnRedis(t, port)
	redisURL := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	env := map[string]string{
		"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_REDIS_URL": redisURL,
		"AUTH_JWT_SECRET": testSecret(t),
	}
	a := start(t, env)
	env["AUTH_MIGRATE_ON_START"] = "false"
	b := start(t, env)

	tok := a.registerAndLogin(t, uniqueEmail(t))
	// Warm both instances: the session and the user are now in each one's
	// local (client-side) cache.
	for range 3 {
		expect(t, a.do(t, "GET", "/auth/me", tok.access, nil), 200)
		expect(t, b.do(t, "GET", "/auth/me", tok.access, nil), 200)
	}
	// A profile update through a is served by b on its next reads.
	expect(t, a.do(t, "PATCH", "/users/me", tok.access, map[string]any{"name": "Grace Hopper"}), 200)
	tookName := eventually(t, "instance b serves the new name", func() bool {
		return b.do(t, "GET", "/auth/me", tok.access, nil).json(t)["name"] == "Grace Hopper"
	})
	t.Logf("the profile update reached the other instance within %v", tookName)
	for range 5 {
		if got := b.do(t, "GET", "/auth/me", tok.access, nil).json(t)["name"]; got != "Grace Hopper" {
			t.Fatalf("instance b went back to %v", got)
		}
	}

	expect(t, a.do(t, "POST", "/auth/logout", tok.access, nil), 204)
	// On the instance that revoked, the very next request fails.
	expect(t, a.do(t, "GET", "/auth/me", tok.access, nil), 401)
	took := eventually(t, "instance b rejects the logged-out token", func() bool {
		return b.do(t, "GET", "/auth/me", tok.access, nil).Status == 401
	})
	t.Logf("revocation reached the other instance within %v", took)
	// And it stays rejected.
	for range 5 {
		expect(t, b.do(t, "GET", "/auth/me", tok.access, nil), 401)
	}
}

// ownRedis is a redis-server private to one test, which it may kill and
// restart; instances of that test share it as a deployment shares Redis.
type ownRedis struct {
	port int
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T, port int) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		requireURL(t, "AUTH_TEST_NO_SUCH_VARIABLE") // skips, or fails where services are required
	}
	r := &ownRedis{port: port}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.kill)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return nil
}

func (r *ownRedis) kill() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

func TestRedisOutageServesFromTheDatabaseAndNeverAcceptsARevokedToken(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	rd := startOwnRedis(t, port)
	redisURL := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	env := map[string]string{
		"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_REDIS_URL": redisURL,
		"AUTH_JWT_SECRET": testSecret(t),
	}
	a := start(t, env)
	env["AUTH_MIGRATE_ON_START"] = "false"
	b := start(t, env)

	email := uniqueEmail(t)
	kept := a.registerAndLogin(t, email)
	revoked := a.login(t, email, "strongpass123")
	for _, inst := range []*instance{a, b} {
		for _, tok := range []pair{kept, revoked} {
			expect(t, inst.do(t, "GET", "/auth/me", tok.access, nil), 200) // warm
		}
	}
	expect(t, a.do(t, "GET", "/readyz", "", nil), 200)

	rd.kill()
	// Reads keep working from the database; no 5xx for a missing cache.
	for _, inst := range []*instance{a, b} {
		expect(t, inst.do(t, "GET", "/auth/me", kept.access, nil), 200)
	}
	// A logout while Redis is down still revokes, on both instances.
	expect(t, a.do(t, "POST", "/auth/logout", revoked.access, nil), 204)
	for _, inst := range []*instance{a, b} {
		expect(t, inst.do(t, "GET", "/auth/me", revoked.access, nil), 401)
	}
	// Login and refresh work without Redis too (rate limits fall back to
	// process memory).
	expect(t, b.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": kept.refresh}), 200)
	r := a.do(t, "GET", "/readyz", "", nil)
	if r.Status != 503 || !strings.Contains(string(r.Body), "redis") {
		t.Errorf("readyz with Redis down: %d %s", r.Status, r.Body)
	}

	startOwnRedis(t, port)
	eventually(t, "readyz recovers with Redis", func() bool { return a.do(t, "GET", "/readyz", "", nil).Status == 200 })
	// After Redis is back, the revoked token is still refused everywhere,
	// however many times it is tried (a stale cache entry would show here).
	for range 20 {
		for _, inst := range []*instance{a, b} {
			expect(t, inst.do(t, "GET", "/auth/me", revoked.access, nil), 401)
			expect(t, inst.do(t, "GET", "/auth/me", kept.access, nil), 200)
		}
	}
}

// AUTH_IP_RATE_PER_MINUTE holds across instances: a client alternating
// between two instances gets the limit once, not once per instance, even
// though each instance counts a client well under its limit in memory and
// sends the counts to Redis in batches (redis.BufferedLimiter). Past the
// limit both instances answer 429 with Retry-After.
func TestTwoInstancesShareTheIPRateLimit(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	startOwnRedis(t, port)
	const limit = 40 // a quarter of it, 10, is counted in memory per instance
	env := map[string]string{
		"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", port),
		"AUTH_JWT_SECRET": testSecret(t), "AUTH_IP_RATE_PER_MINUTE": strconv.Itoa(limit),
	}
	a := start(t, env)
	env["AUTH_MIGRATE_ON_START"] = "false"
	b := start(t, env)

	admitted := 0
	for i := 0; i < 2*limit; i++ {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		r := inst.do(t, "GET", "/auth/me", "", nil)
		if r.Status == 429 {
			break
		}
		expect(t, r, 401) // counted like any other /auth/ request
		admitted++
	}
	// Every hit before the first 429 was counted in Redis by then, so at
	// least the limit got through; the instances' unsent counts allow at
	// most (2 − 1) × (10 − 1) more; per-instance limits would allow 80.
	if admitted < limit || admitted > limit+9 {
		t.Fatalf("%d requests admitted over two instances before a 429, want %d to %d", admitted, limit, limit+9)
	}
	for _, inst := range []*instance{a, b, a, b} {
		r := inst.do(t, "GET", "/auth/me", "", nil)
		expect(t, r, 429)
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After = %q, want 1-60 seconds", r.Header.Get("Retry-After"))
		}
	}
	t.Logf("%d of %d requests admitted across two instances before the first 429", admitted, limit)
}

// A logout, a deactivation or a profile change reaches every instance even
// when the cache cannot carry it: here each instance has a Redis of its
// own (as when one is cut off from the shared Redis), so only PostgreSQL,
// which announces those changes itself, can tell the other.
func TestChangesReachAnInstanceTheCacheCannotTell(t *testing.T) {
	t.Parallel()
	db := postgresDatabase(t)
	secret := testSecret(t)
	var insts []*instance
	for i := range 2 {
		port := freePort(t)
		startOwnRedis(t, port)
		env := map[string]string{
			"AUTH_DATABASE_URL": db, "AUTH_REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", port),
			"AUTH_JWT_SECRET": secret,
		}
		if i > 0 {
			env["AUTH_MIGRATE_ON_START"] = "false"
		}
		insts = append(insts, start(t, env))
	}
	assertChangesReachTheOther(t, insts[0], insts[1])
}

// Several instances on one PostgreSQL with no Redis at all each cache in
// their own memory; the database's announcements keep them right.
func TestChangesReachAnInstanceWithoutAnySharedCache(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_JWT_SECRET": testSecret(t)}
	a := start(t, env)
	env["AUTH_MIGRATE_ON_START"] = "false"
	b := start(t, env)
	assertChangesReachTheOther(t, a, b)
}

// assertChangesReachTheOther changes things through a that b has cached,
// and requires b to follow within eventually's bound (the cache TTL, which
// is all b would otherwise have, is a minute).
func assertChangesReachTheOther(t *testing.T, a, b *instance) {
	t.Helper()
	tok := a.registerAndLogin(t, uniqueEmail(t))
	for range 3 { // b now holds the session and the user in its cache
		expect(t, b.do(t, "GET", "/auth/me", tok.access, nil), 200)
	}
	expect(t, a.do(t, "PATCH", "/users/me", tok.access, map[string]any{"name": "Grace Hopper"}), 200)
	eventually(t, "b serves the new name", func() bool {
		return b.do(t, "GET", "/auth/me", tok.access, nil).json(t)["name"] == "Grace Hopper"
	})
	expect(t, a.do(t, "POST", "/auth/logout", tok.access, nil), 204)
	took := eventually(t, "b rejects the logged-out token", func() bool {
		return b.do(t, "GET", "/auth/me", tok.access, nil).Status == 401
	})
	for range 5 {
		expect(t, b.do(t, "GET", "/auth/me", tok.access, nil), 401)
	}
	t.Logf("the logout reached the other instance within %v", took)
}
