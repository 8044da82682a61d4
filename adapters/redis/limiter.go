package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/authd/authd/ports"
)

var _ ports.RateLimiter = (*RateLimiter)(nil)

// hitScript counts ARGV[2] events and opens the window (ARGV[1]
// milliseconds) on the first: INCRBY and PEXPIRE in one step, so two
// instances hitting a new key at once cannot both see it as new, or leave
// it without an expiry. A key that somehow has no expiry gets one too,
// rather than counting forever. RateLimiter counts one at a time;
// BufferedLimiter sends what it counted in memory as one increment.
//
// rueidis retries it on a connection error (within the call's deadline).
// A connection idle since Redis went away is only found dead when written
// to, and without the retry the first hit after Redis returns would land in
// the fallback. The price: an increment whose reply was lost after Redis
// counted it is counted twice (a single hit here, a whole batch for
// BufferedLimiter), which errs on the side of the limit.
var hitScript = rueidis.NewLuaScriptRetryable(`
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// peekScript reads the count and what is left of the window together, so
// the key cannot expire between the two. It writes nothing, so retrying it
// is safe.
var peekScript = rueidis.NewLuaScriptRetryable(`
local n = redis.call('GET', KEYS[1])
if not n then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(n), ttl}
`)

// undoScript takes back one hit, never below zero, and never makes a key:
// DECR on a missing key would leave -1 without an expiry. DECR keeps the
// key's expiry.
var undoScript = rueidis.NewLuaScript(`
local n = redis.call('GET', KEYS[1])
if n and tonumber(n) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
`)

// RateLimiter counts in Redis, so a limit holds across every instance.
// While Redis cannot be reached it counts in fallback (process memory)
// instead: limits then hold per instance, which is neither failing open
// silently nor refusing everyone. A warning says so at most every
// fallbackWarnEvery. Keys are never logged: they hold emails.
type RateLimiter struct {
	c        *Client
	prefix   string
	fallback ports.RateLimiter
	warn     *warnEvery
	fellBack atomic.Int64
}

const fallbackWarnEvery = 30 * time.Second

// NewRateLimiter returns a limiter whose keys live under prefix in Redis.
func NewRateLimiter(c *Client, prefix string, fallback ports.RateLimiter) *RateLimiter {
	return &RateLimiter{c: c, prefix: prefix, fallback: fallback, warn: &warnEvery{interval: fallbackWarnEvery, log: c.log}}
}

// Hit counts one event. A window is at least a millisecond (Redis' unit);
// zero or less is an error. Errors come only from the fallback.
func (l *RateLimiter) Hit(ctx context.Context, key string, window time.Duration) (ports.Window, error) {
	if window <= 0 {
		return ports.Window{}, errors.New("redis limiter: window must be positive")
	}
	w, err := l.add(ctx, key, 1, ceilMillis(window))
	if err == nil {
		return w, nil
	}
	l.fallingBack(ctx, "hit", err)
	return l.fallback.Hit(ctx, key, window)
}

// Peek returns the key's window without counting. Errors come only from
// the fallback.
func (l *RateLimiter) Peek(ctx context.Context, key string) (ports.Window, error) {
	w, err := l.peek(ctx, key)
	if err == nil {
		return w, nil
	}
	l.fallingBack(ctx, "peek", err)
	return l.fallback.Peek(ctx, key)
}

// Undo takes back one hit. Errors come only from the fallback, which takes
// it back from its own count.
func (l *RateLimiter) Undo(ctx context.Context, key string) error {
	if _, err := l.undo(ctx, key); err != nil {
		l.fallingBack(ctx, "undo", err)
		return l.fallback.Undo(ctx, key)
	}
	return nil
}

// undo takes back one hit in Redis and returns the count left. It does not
// fall back. Not retried: a lost reply would take back two.
func (l *RateLimiter) undo(ctx context.Context, key string) (int64, error) {
	var r rueidis.RedisResult
	err := l.c.call(ctx, func(ctx context.Context) error {
		r = undoScript.Exec(ctx, l.c.rdb, []string{l.prefix + key}, nil)
		return r.Error()
	})
	if err != nil {
		return 0, err
	}
	return r.AsInt64()
}

// add counts n events on key in Redis, opening a window of ms
// milliseconds if the key is new. It does not fall back.
func (l *RateLimiter) add(ctx context.Context, key string, n, ms int64) (ports.Window, error) {
	var r rueidis.RedisResult
	err := l.c.call(ctx, func(ctx context.Context) error {
		r = hitScript.Exec(ctx, l.c.rdb, []string{l.prefix + key}, hitArgs(n, ms))
		return r.Error()
	})
	return window2(r, err)
}

// addMulti is add for several keys in one round trip. It fails as a whole
// or answers per key.
func (l *RateLimiter) addMulti(ctx context.Context, adds []pendingAdd) ([]ports.Window, []error, error) {
	execs := make([]rueidis.LuaExec, len(adds))
	for i, a := range adds {
		execs[i] = rueidis.LuaExec{Keys: []string{l.prefix + a.key}, Args: hitArgs(a.n, a.ms)}
	}
	var rs []rueidis.RedisResult
	err := l.c.call(ctx, func(ctx context.Context) error {
		rs = hitScript.ExecMulti(ctx, l.c.rdb, execs...)
		for _, r := range rs {
			// A reply error is that key's; any other is the connection's,
			// the same for every key.
			if err := r.Error(); err != nil {
				if _, isReply := rueidis.IsRedisErr(err); !isReply {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	ws, errs := make([]ports.Window, len(rs)), make([]error, len(rs))
	for i, r := range rs {
		ws[i], errs[i] = window2(r, r.Error())
	}
	return ws, errs, nil
}

// pendingAdd is one key's share of an addMulti.
type pendingAdd struct {
	key   string
	n, ms int64
}

// peek reads the key's window from Redis. It does not fall back.
func (l *RateLimiter) peek(ctx context.Context, key string) (ports.Window, error) {
	var r rueidis.RedisResult
	err := l.c.call(ctx, func(ctx context.Context) error {
		r = peekScript.Exec(ctx, l.c.rdb, []string{l.prefix + key}, nil)
		return r.Error()
	})
	return window2(r, err)
}

func hitArgs(n, ms int64) []string {
	return []string{strconv.FormatInt(ms, 10), strconv.FormatInt(n, 10)}
}

// ceilMillis is window in Redis' unit, rounded up so that no window is
// shorter than asked.
func ceilMillis(window time.Duration) int64 {
	return int64((window + time.Millisecond - 1) / time.Millisecond)
}

// Fallbacks counts the calls answered by the fallback, for metrics.
func (l *RateLimiter) Fallbacks() int64 { return l.fellBack.Load() }

func (l *RateLimiter) fallingBack(ctx context.Context, op string, err error) {
	l.fellBack.Add(1)
	l.warn.warn(ctx, "rate limiter counting in process memory: redis failed", "op", op, "err", err)
}

// window2 reads a script's {count, milliseconds left} reply, unless the
// call failed.
func window2(r rueidis.RedisResult, err error) (ports.Window, error) {
	if err != nil {
		return ports.Window{}, err
	}
	v, err := r.AsIntSlice()
	if err != nil {
		return ports.Window{}, err
	}
	if len(v) != 2 {
		return ports.Window{}, fmt.Errorf("redis limiter: script returned %d values, want 2", len(v))
	}
	return ports.Window{Count: v[0], ResetIn: time.Duration(v[1]) * time.Millisecond}, nil
}
