package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The first administrator comes from the command line, never from HTTP.
func TestCreateAdminCommandThenAdminAPI(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTH_DATABASE_URL": postgresDatabase(t), "AUTH_JWT_SECRET": testSecret(t)}
	inst := start(t, env)
	member := inst.registerAndLogin(t, uniqueEmail(t))
	expect(t, inst.do(t, "GET", "/admin/users", member.access, nil), 403)

	adminEmail := uniqueEmail(t)
	run := func(stdin string, extraEnv ...string) (string, error) {
		cmd := exec.Command(binary, "create-admin", "--email", adminEmail, "--name", "Root Admin")
		cmd.Env = append(os.Environ(), "AUTH_DATABASE_URL="+env["AUTH_DATABASE_URL"])
		cmd.Env = append(cmd.Env, extraEnv...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The password from standard input creates the account...
	if out, err := run("rootpass1234\n"); err != nil || !strings.Contains(out, "admin created") {
		t.Fatalf("create-admin from stdin: %v %s", err, out)
	}
	// ...and AUTH_ADMIN_PASSWORD on a second run promotes and resets it.
	if out, err := run("", "AUTH_ADMIN_PASSWORD=otherpass5678"); err != nil || !strings.Contains(out, "admin promoted") {
		t.Fatalf("create-admin from env: %v %s", err, out)
	}
	if out, err := run(""); err == nil {
		t.Errorf("create-admin with no password succeeded: %s", out)
	}
	admin := inst.login(t, adminEmail, "otherpass5678")
	r := inst.do(t, "GET", "/admin/users?limit=1", admin.access, nil)
	expect(t, r, 200)
	if items := r.json(t)["items"].([]any); len(items) != 1 || r.json(t)["next_cursor"] == nil {
		t.Fatalf("first page of two users: %s", r.Body)
	}
	// Deactivating the member ends its session at once.
	me := inst.do(t, "GET", "/auth/me", member.access, nil).json(t)
	expect(t, inst.do(t, "PATCH", "/admin/users/"+me["id"].(string), admin.access, map[string]any{"is_active": false}), 200)
	expect(t, inst.do(t, "GET", "/auth/me", member.access, nil), 401)

	// Ids come from the URL: one PostgreSQL cannot even compare (a NUL
	// byte, invalid UTF-8) is a 404 like any unknown id, never a 500.
	for _, id := range []string{"%00", "%FF", "0193f4c2-%00"} {
		expect(t, inst.do(t, "GET", "/admin/users/"+id, admin.access, nil), 404)
		expect(t, inst.do(t, "PATCH", "/admin/users/"+id, admin.access, map[string]any{"is_active": false}), 404)
		expect(t, inst.do(t, "DELETE", "/admin/users/"+id, admin.access, nil), 404)
		expect(t, inst.do(t, "DELETE", "/users/me/sessions/"+id, admin.access, nil), 404)
	}
}
