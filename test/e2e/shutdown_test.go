package e2e

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM stops new work but lets a request already in flight finish: here
// a request's headers are sent, then the signal, then its body, and the
// answer must still arrive complete before the process exits cleanly.
// (Go's server counts a request as in flight once its headers are read.)
func TestSIGTERMDrainsARequestInFlight(t *testing.T) {
	t.Parallel()
	inst := start(t, map[string]string{"AUTH_DATABASE_URL": "sqlite::memory:"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(inst.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"Ada Lovelace","email":"drain@example.com","password":"strongpass123"}`
	head := "POST /auth/register HTTP/1.1\r\nHost: authd\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the handler is now waiting for the body
	if err := inst.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server is shutting down, waiting for this request
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost at shutdown: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("in-flight register: %d, want 201", resp.StatusCode)
	}
	select {
	case <-inst.done:
		if inst.err != nil {
			t.Fatalf("exit after drain: %v", inst.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("authd did not exit after draining")
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(inst.URL, "http://"), time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}
