package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireServices is set in CI, where a missing service fails the test
// instead of skipping it.
var requireServices = os.Getenv("AUTH_TEST_REQUIRE_SERVICES") == "1"

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if requireServices {
		t.Fatal(why + " (AUTH_TEST_REQUIRE_SERVICES=1)")
	}
	t.Skip(why)
}

// testURL is the shared Redis of the test run.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("AUTH_TEST_REDIS_URL")
	if u == "" {
		skipOrFail(t, "AUTH_TEST_REDIS_URL is not set")
	}
	return u
}

// openTest opens a client on url (the shared Redis when empty) and closes
// it when the test ends.
func openTest(t testing.TB, url string, o Options) *Client {
	t.Helper()
	if url == "" {
		url = testURL(t)
	}
	o.URL = url
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testOutput(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func testOutput(t testing.TB) io.Writer {
	if tt, ok := t.(*testing.T); ok {
		return tt.Output()
	}
	return io.Discard
}

// testPrefix returns a key prefix private to this test, and deletes every
// key under it when the test ends.
func testPrefix(t testing.TB, c *Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	prefix := fmt.Sprintf("authd-test:%s:%s:", name, hex.EncodeToString(b[:]))
	t.Cleanup(func() { deletePrefix(t, c, prefix) })
	return prefix
}

func deletePrefix(t testing.TB, c *Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.rdb.Do(ctx, c.rdb.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Logf("cleaning up %s*: %v", prefix, err)
			return
		}
		if len(e.Elements) > 0 {
			if err := c.rdb.Do(ctx, c.rdb.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				t.Logf("cleaning up %s*: %v", prefix, err)
				return
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

// freeAddr returns a loopback address nothing listens on (as far as one
// can tell without holding it).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// redisServer is a redis-server of the test's own, which it may kill.
type redisServer struct {
	t    *testing.T
	bin  string
	addr string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not found")
	}
	s := &redisServer{t: t, bin: bin, addr: freeAddr(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	s.out = &bytes.Buffer{}
	s.cmd = exec.Command(s.bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--protected-mode", "no")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", s.addr)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server did not listen on %s: %v\n%s", s.addr, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server at once, as a crash would.
func (s *redisServer) kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// restart starts a new, empty server on the same address.
func (s *redisServer) restart() {
	s.t.Helper()
	s.kill()
	s.start()
}

func (s *redisServer) stop() { s.kill() }

func (s *redisServer) url() string { return "redis://" + s.addr + "/0" }

// proxy forwards TCP to a Redis and can cut every connection and refuse
// new ones, as a network partition would, while Redis keeps its data.
type proxy struct {
	t      *testing.T
	target string
	l      net.Listener

	mu     sync.Mutex
	cut    bool
	frozen bool
	thawed *sync.Cond
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: target, l: l}
	p.thawed = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(func() {
		_ = l.Close()
		p.setFrozen(false)
		p.setCut(true)
	})
	return p
}

func (p *proxy) url() string { return "redis://" + p.l.Addr().String() + "/0" }

func (p *proxy) serve() {
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies src to dst, holding bytes back while the proxy is frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.thawed.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// setFrozen stops (true) or resumes (false) forwarding while keeping every
// connection open: a network that drops packets instead of refusing them.
func (p *proxy) setFrozen(frozen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = frozen
	if !frozen {
		p.thawed.Broadcast()
	}
}

// setCut closes every open connection and refuses new ones (true), or lets
// them through again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// redisAddr is host:port of a redis:// URL.
func redisAddr(t testing.TB, url string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(url, "redis://")
	if !ok {
		t.Skipf("proxy tests need a redis:// URL, got %q", url)
	}
	if i := strings.LastIndexAny(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
