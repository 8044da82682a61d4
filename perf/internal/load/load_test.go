package load

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCSVRoundTrip(t *testing.T) {
	in := []Record{
		{Stream: "login#1", Endpoint: "login", Sched: 5 * time.Second, Start: 5*time.Second + 30*time.Microsecond,
			Latency: 2 * time.Millisecond, Status: 503, RetryAfter: "2"},
		{Stream: "me#0", Endpoint: "me", Sched: time.Second, Start: time.Second, Latency: time.Millisecond, Err: "timeout, or so"},
	}
	path := filepath.Join(t.TempDir(), "r.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(f, in); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := ReadCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d records back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("record %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	if got := in[0].End(); got != 5*time.Second+2*time.Millisecond {
		t.Errorf("End = %v", got)
	}
}
