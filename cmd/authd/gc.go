package main

import "runtime/debug"

// gcPercent is authd's GOGC when the environment sets neither GOGC nor
// GOMEMLIMIT. A warm GET /auth/me allocates about 4 KB while the live heap
// stays small, so at the default of 100 the collector runs every few
// thousand requests; at 400 it runs a quarter as often, which measured
// 72% → 83% of the bare-Echo ceiling in requests per second
// (perf/results/me-cache.md).
const gcPercent = 400

// gcMemoryLimit is the soft memory limit that goes with gcPercent, so the
// larger heap target never outgrows the memory budget: the collector works
// harder as the heap nears it instead. It leaves room for twice the
// client-side cache (rueidis' cache, plus the decoded copies and memos in
// front of it) and 64 MiB for everything else, so a full cache can never
// push the live heap near the limit, where the collector would run
// continuously: 128 MiB with the default 32 MB cache.
func gcMemoryLimit(cacheSizeMB int) int64 {
	return (64 + 2*int64(max(cacheSizeMB, 0))) << 20
}

// tuneGC applies authd's collector defaults unless the operator set GOGC
// or GOMEMLIMIT, which Go itself reads, in which case they stand as given.
// It reports the settings in effect (-1 for a value left to Go).
func tuneGC(getenv func(string) string, cacheSizeMB int) (percent int, limit int64) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return -1, -1
	}
	limit = gcMemoryLimit(cacheSizeMB)
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(limit)
	return gcPercent, limit
}
