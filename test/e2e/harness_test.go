// Package e2e drives the real authd binary over HTTP: built once per run,
// started as separate processes, stopped with SIGTERM. Several instances can
// share one database and Redis, and a test can kill what it started.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "authd")
	build := exec.Command("go", "build", "-o", binary, "github.com/authd/authd/cmd/authd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build authd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running authd process.
type instance struct {
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSecret is shared by instances of one test so they accept each other's
// tokens, as a real deployment's would.
func testSecret(t *testing.T) string {
	t.Helper()
	return hex.EncodeToString(randBytes(32))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs authd with env on a free port and waits for /healthz.
func start(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "AUTH_HTTP_ADDR="+addr, "AUTH_LOG_LEVEL=debug")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return startCmd(t, cmd, "http://"+addr)
}

// startCmd starts a prepared command serving at base and waits for /healthz.
func startCmd(t *testing.T, cmd *exec.Cmd, base string) *instance {
	t.Helper()
	inst := &instance{URL: base, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = inst.logs, inst.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { inst.err = cmd.Wait(); close(inst.done) }()
	t.Cleanup(func() {
		inst.stop(t)
		if t.Failed() {
			t.Logf("authd %s logs:\n%s", base, inst.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-inst.done:
			t.Fatalf("authd exited at start: %v\n%s", inst.err, inst.logs.String())
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return inst
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("authd did not become healthy:\n%s", inst.logs.String())
	return nil
}

func asExit(err error, target **exec.ExitError) bool { return errors.As(err, target) }

// stop sends SIGTERM and waits for a clean exit.
func (i *instance) stop(t *testing.T) {
	t.Helper()
	select {
	case <-i.done:
		return
	default:
	}
	_ = i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.done:
		if i.err != nil {
			t.Errorf("authd exited with %v after SIGTERM", i.err)
		}
	case <-time.After(20 * time.Second):
		_ = i.cmd.Process.Kill()
		t.Errorf("authd did not stop within 20s of SIGTERM")
	}
}

// response is what a test looks at.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

var client = &http.Client{Timeout: 30 * time.Second}

func (i *instance) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, i.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func expect(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
}

type pair struct{ access, refresh string }

func (i *instance) registerAndLogin(t *testing.T, email string) pair {
	t.Helper()
	expect(t, i.do(t, "POST", "/auth/register", "", map[string]string{
		"name": "Ada Lovelace", "email": email, "password": "strongpass123"}), 201)
	return i.login(t, email, "strongpass123")
}

func (i *instance) login(t *testing.T, email, password string) pair {
	t.Helper()
	r := i.do(t, "POST", "/auth/login", "", map[string]string{"email": email, "password": password})
	expect(t, r, 200)
	m := r.json(t)
	return pair{access: m["access_token"].(string), refresh: m["refresh_token"].(string)}
}

// services: PostgreSQL and Redis are mandatory where CI says so.
func requireURL(t *testing.T, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("AUTH_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is not set but AUTH_TEST_REQUIRE_SERVICES=1", env)
		}
		t.Skipf("%s not set", env)
	}
	return u
}

// postgresDatabase creates a database private to the test and drops it at
// the end, so instances of one test share it and no two tests do.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	admin := requireURL(t, "AUTH_TEST_POSTGRES_URL")
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	name := "e2e_" + hex.EncodeToString(randBytes(6))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		// Instances are stopped by earlier cleanups (LIFO), so no session
		// holds the database by now; FORCE covers a killed one.
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func uniqueEmail(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + hex.EncodeToString(randBytes(3)) + "@example.com"
}
