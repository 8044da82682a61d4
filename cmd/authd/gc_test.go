package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	percent, limit := tuneGC(env(nil), 32)
	if percent != gcPercent || limit != 128<<20 {
		t.Fatalf("defaults: GOGC %d, limit %d MiB; want %d and 128 MiB", percent, limit>>20, gcPercent)
	}
	if got := debug.SetGCPercent(gcPercent); got != gcPercent {
		t.Errorf("runtime GOGC is %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != 128<<20 {
		t.Errorf("runtime memory limit is %d MiB, want 128", got>>20)
	}
	// A bigger cache moves the limit with it, so the live heap never nears it.
	if _, limit := tuneGC(env(nil), 512); limit != (64+1024)<<20 {
		t.Errorf("512 MB cache: limit %d MiB, want 1088", limit>>20)
	}

	// The operator's own settings stand.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(1 << 40)
	for _, key := range []string{"GOGC", "GOMEMLIMIT"} {
		if percent, _ := tuneGC(env(map[string]string{key: "50"}), 32); percent != -1 {
			t.Errorf("%s set: tuneGC still tuned (GOGC %d)", key, percent)
		}
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("%s set: GOGC changed to %d", key, got)
		}
		if got := debug.SetMemoryLimit(-1); got != 1<<40 {
			t.Errorf("%s set: memory limit changed to %d", key, got)
		}
	}
}
