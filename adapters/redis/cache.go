package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/authd/authd/ports"
)

var _ ports.Cache = (*Cache)(nil)

// ownWriteWindow is how long this process reads a key it just wrote from
// Redis itself rather than from its client-side cache. The write goes out
// on any connection, the invalidation of the local copy arrives
// asynchronously on the one that tracks the key: NOTES.md measured up to
// 6.5 ms, and without the window TestCacheReadsItsOwnWrites sees 15–35% of
// reads right after a Put return the old value. A second is far beyond the
// lag; the map it needs holds one entry per key written in the last second.
const ownWriteWindow = time.Second

// versionDigits is the width of the version prefix of a stored value.
const versionDigits = 20

// putScript writes a value only over an older version, in one step so no
// other writer can come between the comparison and the write.
//
// The version travels as 20 decimal digits of the int64 offset by 2^63, so
// that digit order is number order over the whole int64 range. The script
// compares the two 10-digit halves as numbers: Lua numbers are doubles and
// would call neighbours above 2^53 equal, and string comparison in Redis'
// Lua follows the server's locale.
var putScript = rueidis.NewLuaScriptRetryable(`
local function above(a, b)
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah > bh end
  return tonumber(string.sub(a, 11, 20)) > tonumber(string.sub(b, 11, 20))
end
local cur = redis.call('GET', KEYS[1])
if cur and #cur >= 20 then
  local v = string.sub(cur, 1, 20)
  if not string.find(v, '%D') and not above(ARGV[1], v) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ARGV[2], 'PX', ARGV[3])
return 1
`)

// Cache is a ports.Cache in Redis, read through this process's client-side
// cache: a warm key is answered from memory, and Redis tells every process
// holding a key to drop it as soon as the key changes anywhere.
//
// Local copies go with their connection. In rueidis v1.0.80: a DoCache
// fill starts the connection's background reader ((*pipe).DoMulti, the
// isOptIn case), so a closed connection is noticed without a request; the
// reader's exit closes that connection's cache store ((*pipe)._background
// calls p.cache.Close; (*lru).Close drops every entry); the mux then swaps
// in a fresh connection with an empty store (mux.go, setCloseHookOnWire).
// A connection that goes silent without closing is dropped the same way
// by the background PING (Options.HealthCheck). TestCacheOutage and
// TestSilentPartitionDropsTheLocalCache show both.
type Cache struct {
	c      *Client
	prefix string
	window time.Duration // ownWriteWindow; tests may switch it off

	localHits, redisHits, misses, errs atomic.Int64
}

// recentWrites remembers the keys this process wrote lately. It belongs to
// the Client, so every Cache on it sees the writes of the others.
type recentWrites struct {
	mu      sync.RWMutex
	until   map[string]time.Time // key → until when to bypass the local copy
	sweepAt time.Time
}

// CacheStats counts what a Cache did since it was made, for metrics.
type CacheStats struct {
	LocalHits int64 // answered from this process's memory
	RedisHits int64 // answered by Redis
	Misses    int64 // no entry, whether Redis or the local cache said so
	Errors    int64 // failed Gets and Puts, fast failures while unavailable included
}

// NewCache returns a cache whose keys live under prefix in Redis.
func NewCache(c *Client, prefix string) *Cache {
	return &Cache{c: c, prefix: prefix, window: ownWriteWindow}
}

// Get returns the value under key. While Redis is unreachable it returns an
// error (ErrUnavailable or the connection's), never a local copy.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	k := c.prefix + key
	direct := c.wroteRecently(k)
	var r rueidis.RedisResult
	err := c.c.call(ctx, func(ctx context.Context) error {
		if direct {
			r = c.c.rdb.Do(ctx, c.c.rdb.B().Get().Key(k).Build())
		} else {
			r = c.c.rdb.DoCache(ctx, c.c.rdb.B().Get().Key(k).Cache(), c.c.localTTL)
		}
		return r.Error()
	})
	hit := err == nil
	if rueidis.IsRedisNil(err) {
		err = nil
	}
	var s string
	if hit {
		s, err = r.ToString()
	}
	switch {
	case err != nil:
		c.errs.Add(1)
		return nil, false, fmt.Errorf("redis cache: get: %w", err)
	case !hit:
		c.misses.Add(1)
		return nil, false, nil
	case len(s) < versionDigits:
		c.errs.Add(1)
		return nil, false, errors.New("redis cache: get: stored value has no version")
	}
	if r.IsCacheHit() {
		c.localHits.Add(1)
	} else {
		c.redisHits.Add(1)
	}
	// The conversion copies: the string may be the client-side cache's own.
	return []byte(s[versionDigits:]), true, nil
}

// Put stores value under key unless Redis holds a version at least as
// high. A ttl of zero or less is an error; below a millisecond it is
// rounded up to one.
func (c *Cache) Put(ctx context.Context, key string, version int64, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("redis cache: ttl must be positive")
	}
	k := c.prefix + key
	// Marked before the write, so no Get of this process can reach the
	// stale local copy between the write and the mark.
	c.markWritten(k)
	ms := strconv.FormatInt(int64((ttl+time.Millisecond-1)/time.Millisecond), 10)
	err := c.c.call(ctx, func(ctx context.Context) error {
		return putScript.Exec(ctx, c.c.rdb, []string{k}, []string{encodeVersion(version), string(value), ms}).Error()
	})
	if err != nil {
		c.errs.Add(1)
		return fmt.Errorf("redis cache: put: %w", err)
	}
	return nil
}

// Stats returns the counters so far.
func (c *Cache) Stats() CacheStats {
	return CacheStats{LocalHits: c.localHits.Load(), RedisHits: c.redisHits.Load(), Misses: c.misses.Load(), Errors: c.errs.Load()}
}

func (c *Cache) markWritten(k string) {
	if c.window <= 0 {
		return // only tests switch it off, to show what it prevents
	}
	w := &c.c.recent
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.until == nil {
		w.until = map[string]time.Time{}
	}
	// Covers a Put that takes its whole timeout, and the window after it.
	w.until[k] = now.Add(c.c.timeout + c.window)
	if now.After(w.sweepAt) {
		for key, until := range w.until {
			if now.After(until) {
				delete(w.until, key)
			}
		}
		w.sweepAt = now.Add(c.window)
	}
}

func (c *Cache) wroteRecently(k string) bool {
	w := &c.c.recent
	w.mu.RLock()
	until, ok := w.until[k]
	w.mu.RUnlock()
	return ok && time.Now().Before(until)
}

// encodeVersion writes v offset by 2^63 as 20 digits, so that comparing
// the digits compares the versions.
func encodeVersion(v int64) string {
	return fmt.Sprintf("%020d", uint64(v)^(1<<63))
}
