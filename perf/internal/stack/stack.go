// Package stack starts and stops what a perf run needs on this machine: a
// private PostgreSQL database on the shared server, a private redis-server,
// authd instances and the perf tools, each optionally pinned to CPUs with
// taskset. Everything it starts it stops, and every database it creates it
// drops, in Close; children also get SIGKILL if the run dies (Pdeathsig),
// so nothing outlives a run.
package stack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// PostgresAdmin is how createdb/dropdb reach the shared server.
var PostgresAdmin = []string{"-h", "127.0.0.1", "-p", "5432", "-U", "postgres"}

// Stack owns the processes and databases of one run.
type Stack struct {
	Bin string // directory holding authd and the perf binaries
	Dir string // scratch directory: logs, CSVs, the body file
	Log io.Writer

	mu       sync.Mutex
	cleanups []func()
	secret   string
}

// New makes a scratch directory under os.TempDir.
func New(bin string, log io.Writer) (*Stack, error) {
	if _, err := os.Stat(filepath.Join(bin, "authd")); err != nil {
		return nil, fmt.Errorf("no authd binary in %s (build it first: go tool task perf:build): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "authd-perf-")
	if err != nil {
		return nil, err
	}
	s := &Stack{Bin: bin, Dir: dir, Log: log, secret: randHex(32)}
	s.defer_(func() { _ = os.RemoveAll(dir) })
	return s, nil
}

func (s *Stack) defer_(f func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, f)
	s.mu.Unlock()
}

// Close stops every process (SIGTERM, then SIGKILL after 5s) and drops
// every database, newest first.
func (s *Stack) Close() {
	s.mu.Lock()
	c := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// Keep leaves the scratch directory in place (for looking at logs); it is
// printed to the log.
func (s *Stack) Keep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cleanups) > 0 {
		s.cleanups[0] = func() { fmt.Fprintf(s.Log, "kept %s\n", s.Dir) }
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Proc is a started process.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	URL  string // http://127.0.0.1:port for servers
	Port int
	Env  []string // the AUTH_* and GOMAXPROCS settings it was given
	done chan struct{}
	err  error
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// command builds name's command, under taskset when cpus is set, with
// env added to a copy of this process's environment from which every
// AUTH_* and GOMAXPROCS setting has been removed (so nothing leaks in from
// the caller's shell).
func command(cpus string, env []string, name string, args ...string) *exec.Cmd {
	if cpus != "" {
		args = append([]string{"-c", cpus, name}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AUTH_") || strings.HasPrefix(kv, "GOMAXPROCS=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	// If the run itself dies, its children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Start runs a long-lived process whose output goes to Dir/name.log, and
// arranges for Close to stop it.
func (s *Stack) Start(name, cpus string, env []string, bin string, args ...string) (*Proc, error) {
	logf, err := os.Create(filepath.Join(s.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := command(cpus, env, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Env: env, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	s.defer_(func() { stop(p) })
	return p, nil
}

func stop(p *Proc) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether p has ended, with its error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Run runs a command to completion (bounded by ctx) and returns its
// standard output; standard error goes to Dir/name.log.
func (s *Stack) Run(ctx context.Context, name, cpus string, env []string, bin string, args ...string) ([]byte, error) {
	logf, err := os.OpenFile(filepath.Join(s.Dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := command(cpus, env, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w (see %s)", name, err, logf.Name())
	}
	return out.Bytes(), nil
}

// Tool returns the path of a binary in Bin.
func (s *Stack) Tool(name string) string { return filepath.Join(s.Bin, name) }

// Postgres creates a private database on the shared server and returns its
// URL; Close drops it.
func (s *Stack) Postgres(ctx context.Context) (string, error) {
	name := fmt.Sprintf("perf_%d_%s", os.Getpid(), randHex(4))
	args := append(append([]string{}, PostgresAdmin...), name)
	if out, err := exec.CommandContext(ctx, "createdb", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("createdb %s: %w: %s", name, err, out)
	}
	s.defer_(func() {
		args := append(append([]string{}, PostgresAdmin...), "--force", "--if-exists", name)
		if out, err := exec.Command("dropdb", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(s.Log, "dropdb %s: %v: %s\n", name, err, out)
		}
	})
	return "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable", nil
}

// Redis starts a private redis-server (no persistence) on a free port.
func (s *Stack) Redis(ctx context.Context, cpus string) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := s.Start("redis", cpus, nil, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.Dir)
	if err != nil {
		return nil, err
	}
	p.Port = port
	p.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("redis-server did not listen on %d", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RedisCalls returns how many times each command ran on the Redis at port
// (INFO commandstats), e.g. calls["get"].
func RedisCalls(ctx context.Context, port int) (map[string]int64, error) {
	out, err := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(port), "INFO", "commandstats").Output()
	if err != nil {
		return nil, fmt.Errorf("redis-cli INFO: %w", err)
	}
	calls := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				calls[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return calls, nil
}

// AuthdEnv is the base environment of an authd under load: limits off,
// quiet logs, one JWT secret for every instance of the run (so a token
// from one is good on all), migrations left to Migrate.
func (s *Stack) AuthdEnv(dbURL string) []string {
	return []string{
		"AUTH_DATABASE_URL=" + dbURL,
		"AUTH_JWT_SECRET=" + s.secret,
		"AUTH_IP_RATE_PER_MINUTE=0",
		"AUTH_LOGIN_RATE_PER_MINUTE=0",
		"AUTH_LOG_LEVEL=warn",
		"AUTH_MIGRATE_ON_START=false",
	}
}

// Migrate applies authd's migrations to dbURL once, before instances start
// (two instances migrating at once would race).
func (s *Stack) Migrate(ctx context.Context, dbURL string) error {
	_, err := s.Run(ctx, "migrate", "", s.AuthdEnv(dbURL), s.Tool("authd"), "migrate")
	return err
}

// MigratedPostgres creates a private database (Postgres) and applies
// authd's migrations to it (Migrate): where every run that uses PostgreSQL
// starts.
func (s *Stack) MigratedPostgres(ctx context.Context) (string, error) {
	db, err := s.Postgres(ctx)
	if err != nil {
		return "", err
	}
	return db, s.Migrate(ctx, db)
}

// Authd starts an instance on a free port with env, pinned to cpus when
// set, and waits until /healthz answers.
func (s *Stack) Authd(ctx context.Context, name, cpus string, env []string) (*Proc, error) {
	return s.AuthdBinary(ctx, name, cpus, env, s.Tool("authd"))
}

// AuthdBinary is Authd with another authd binary (a candidate build to
// compare with the one in Bin).
func (s *Stack) AuthdBinary(ctx context.Context, name, cpus string, env []string, bin string) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	env = append(append([]string{}, env...), fmt.Sprintf("AUTH_HTTP_ADDR=127.0.0.1:%d", port))
	p, err := s.Start(name, cpus, env, bin, "serve")
	if err != nil {
		return nil, err
	}
	p.Port, p.URL = port, fmt.Sprintf("http://127.0.0.1:%d", port)
	return p, s.waitHealthy(ctx, p, "/healthz")
}

// Serve starts any HTTP server binary from Bin that takes -addr, and waits
// for path to answer 200.
func (s *Stack) Serve(ctx context.Context, name, cpus string, env []string, path, bin string, args ...string) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args = append([]string{"-addr", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	p, err := s.Start(name, cpus, env, s.Tool(bin), args...)
	if err != nil {
		return nil, err
	}
	p.Port, p.URL = port, fmt.Sprintf("http://127.0.0.1:%d", port)
	return p, s.waitHealthy(ctx, p, path)
}

func (s *Stack) waitHealthy(ctx context.Context, p *Proc, path string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if exited, err := p.Exited(); exited {
			log, _ := os.ReadFile(filepath.Join(s.Dir, p.Name+".log"))
			return fmt.Errorf("%s exited at start (%v): %s", p.Name, err, log)
		}
		res, err := http.Get(p.URL + path)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s did not answer 200 within 20s", p.Name, path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Metric reads one unlabelled sample from a Prometheus text endpoint
// (authd's /metrics), e.g. go_sched_gomaxprocs_threads.
func Metric(url, name string) (float64, error) {
	res, err := http.Get(url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s/metrics: no %s", url, name)
}

// Effective describes how an authd instance actually runs, read from its
// /metrics: "GOMAXPROCS 3, hashing workers 2", or "" when it does not say.
func Effective(url string) string {
	procs, err1 := Metric(url, "go_sched_gomaxprocs_threads")
	workers, err2 := Metric(url, "authd_hash_workers")
	if err1 != nil || err2 != nil {
		return ""
	}
	return fmt.Sprintf("GOMAXPROCS %d, hashing workers %d", int(procs), int(workers))
}
