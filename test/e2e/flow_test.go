package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkFlow is the README's curl walk-through: register, log in, /auth/me,
// refresh, log out, after which the old access and refresh tokens are 401.
func checkFlow(t *testing.T, inst *instance) {
	t.Helper()
	email := uniqueEmail(t)
	tok := inst.registerAndLogin(t, email)

	me := inst.do(t, "GET", "/auth/me", tok.access, nil)
	expect(t, me, 200)
	if got := me.json(t)["email"]; got != email {
		t.Fatalf("/auth/me email = %v, want %s", got, email)
	}
	expect(t, inst.do(t, "GET", "/users/me", tok.access, nil), 200)

	r := inst.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": tok.refresh})
	expect(t, r, 200)
	next := pair{access: r.json(t)["access_token"].(string), refresh: r.json(t)["refresh_token"].(string)}

	expect(t, inst.do(t, "POST", "/auth/logout", next.access, nil), 204)
	for name, access := range map[string]string{"first": tok.access, "refreshed": next.access} {
		r := inst.do(t, "GET", "/auth/me", access, nil)
		if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s access token after logout: %d %q", name, r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
	expect(t, inst.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": next.refresh}), 401)
}

func TestFlowOnEmbeddedSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inst := start(t, map[string]string{"AUTH_DATABASE_URL": "sqlite://" + filepath.Join(dir, "nested", "authd.db")})
	checkFlow(t, inst)
}

func TestFlowOnPostgres(t *testing.T) {
	t.Parallel()
	inst := start(t, map[string]string{"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_JWT_SECRET": testSecret(t)})
	checkFlow(t, inst)
}

// The zero-configuration start the README promises: no variables at all,
// the database lands under ./data of the working directory.
func TestZeroConfigurationStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AUTH_HTTP_ADDR="+addr)
	got := startCmd(t, cmd, "http://"+addr)
	checkFlow(t, got)
	if _, err := os.Stat(filepath.Join(dir, "data", "authd.db")); err != nil {
		t.Errorf("embedded database not under ./data: %v", err)
	}
}

func TestBadConfigurationExitsWithStatus2NamingTheKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ env, key string }{
		{"AUTH_BCRYPT_COST=9", "AUTH_BCRYPT_COST"},
		{"AUTH_ACCESS_TOKEN_TTL=soon", "AUTH_ACCESS_TOKEN_TTL"},
		{"AUTH_JWT_SECRET=short", "AUTH_JWT_SECRET"},
		{"AUTH_DATABASE_URL=mysql://x", "AUTH_DATABASE_URL"},
	} {
		cmd := exec.Command(binary)
		cmd.Env = append(os.Environ(), c.env, "AUTH_HTTP_ADDR=127.0.0.1:0")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !asExit(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%s: exit %v, want status 2; output %s", c.env, err, out)
			continue
		}
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], c.key) {
			t.Errorf("%s: output %q, want one line naming %s", c.env, out, c.key)
		}
	}
}

func TestVersionAndMigrateCommands(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "authd ") {
		t.Errorf("version: %v %q", err, out)
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "authd.db")
	for range 2 { // the second run finds nothing to do
		cmd := exec.Command(binary, "migrate")
		cmd.Env = append(os.Environ(), "AUTH_DATABASE_URL="+db)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(binary, "frobnicate")
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	if !asExit(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("unknown command: %v %q", err, out)
	}
}

func TestFlowWithCachingOff(t *testing.T) {
	t.Parallel()
	inst := start(t, map[string]string{"AUTH_DATABASE_URL": "sqlite::memory:", "AUTH_CACHE_TTL": "0s"})
	checkFlow(t, inst)
}
