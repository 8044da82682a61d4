package memory

import (
	"context"
	"sync"
	"time"

	"github.com/authd/authd/ports"
)

var _ ports.RateLimiter = (*RateLimiter)(nil)

// RateLimiter counts events per key in fixed windows in process memory. It
// serves a single instance (the embedded default) and is the fallback of
// the Redis limiter while Redis is unreachable.
type RateLimiter struct {
	clock ports.Clock
	mu    sync.Mutex
	keys  map[string]window
	// sweepAt bounds memory: expired keys are dropped at most once a window.
	sweepAt time.Time
}

type window struct {
	count int64
	until time.Time
}

// NewRateLimiter returns an empty limiter reading time from clock.
func NewRateLimiter(clock ports.Clock) *RateLimiter {
	return &RateLimiter{clock: clock, keys: map[string]window{}}
}

func (l *RateLimiter) Hit(_ context.Context, key string, length time.Duration) (ports.Window, error) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now, length)
	w := l.keys[key]
	if !now.Before(w.until) {
		w = window{until: now.Add(length)}
	}
	w.count++
	l.keys[key] = w
	return ports.Window{Count: w.count, ResetIn: w.until.Sub(now)}, nil
}

func (l *RateLimiter) Peek(_ context.Context, key string) (ports.Window, error) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.keys[key]
	if !ok || !now.Before(w.until) {
		return ports.Window{}, nil
	}
	return ports.Window{Count: w.count, ResetIn: w.until.Sub(now)}, nil
}

func (l *RateLimiter) Undo(_ context.Context, key string) error {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.keys[key]; ok && now.Before(w.until) && w.count > 0 {
		w.count--
		l.keys[key] = w
	}
	return nil
}

func (l *RateLimiter) sweep(now time.Time, length time.Duration) {
	if now.Before(l.sweepAt) {
		return
	}
	for k, w := range l.keys {
		if !now.Before(w.until) {
			delete(l.keys, k)
		}
	}
	l.sweepAt = now.Add(length)
}
