package ports

import (
	"context"
	"time"
)

// Cache is a shared key-value cache in front of the stores. Values carry a
// version so that a reader filling the cache with what it read a moment ago
// can never overwrite a newer value a writer just put there.
//
// The cache is never the source of truth: callers fall back to the store on
// any error, and every entry has a TTL so a lost update ages out.
type Cache interface {
	// Get returns the value under key; ok is false on a miss.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Put stores value under key with version for ttl, unless the entry
	// already there has a version at least as high, in which case Put
	// changes nothing (and is not an error).
	Put(ctx context.Context, key string, version int64, value []byte, ttl time.Duration) error
}

// RateLimiter counts events per key in fixed windows.
type RateLimiter interface {
	// Hit counts one event against key. A key's window opens at its first
	// hit and lasts window; the returned Window tells the count so far,
	// this one included.
	Hit(ctx context.Context, key string, window time.Duration) (Window, error)
	// Peek returns the key's current window without counting (zero when none
	// is open).
	Peek(ctx context.Context, key string) (Window, error)
	// Undo takes back one hit of the key's current window: for an attempt
	// counted before it was known whether it counts (a login, before its
	// password is checked). The count never goes below zero, and a key
	// without an open window is left without one.
	Undo(ctx context.Context, key string) error
}

// Window is the state of one rate-limit key.
type Window struct {
	Count   int64
	ResetIn time.Duration
}
