package memory

import (
	"container/list"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/authd/authd/ports"
)

var _ ports.Cache = (*Cache)(nil)

// Cache is the in-process ports.Cache of a single instance (the embedded
// default). It holds at most maxEntries entries and evicts the least
// recently used one to make room; an entry also ends when its TTL runs out.
//
// Eviction forgets an entry's version along with its value, so a reader
// that loaded an old row long ago could then put it back. That needs the
// entry to be pushed out by maxEntries newer ones between the reader's load
// and its Put, and the TTL still bounds it; the same holds for Redis under
// maxmemory eviction.
type Cache struct {
	clock ports.Clock
	max   int

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	lru     *list.List               // front: most recently used
	stats   CacheStats
}

type cacheEntry struct {
	key     string
	version int64
	value   []byte
	expires time.Time
}

// CacheStats counts what a Cache did since it was made, for metrics.
type CacheStats struct {
	Hits      int64
	Misses    int64
	Evictions int64 // entries dropped to make room, not by expiry
	Entries   int   // held now, expired ones included until touched
}

// NewCache returns an empty cache of at most maxEntries entries (at least
// one) that reads time from clock.
func NewCache(maxEntries int, clock ports.Clock) *Cache {
	return &Cache{clock: clock, max: max(maxEntries, 1), entries: map[string]*list.Element{}, lru: list.New()}
}

// Get returns a copy of the value under key.
func (c *Cache) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if ok && !now.Before(el.Value.(*cacheEntry).expires) {
		c.remove(el)
		ok = false
	}
	if !ok {
		c.stats.Misses++
		return nil, false, nil
	}
	c.stats.Hits++
	c.lru.MoveToFront(el)
	return slices.Clone(el.Value.(*cacheEntry).value), true, nil
}

// Put stores a copy of value unless a live entry has a version at least as
// high. A ttl of zero or less is an error: every entry must age out.
func (c *Cache) Put(_ context.Context, key string, version int64, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("memory cache: ttl must be positive")
	}
	now := c.clock.Now()
	// A nil value would come back as an empty one; normalise so Get always
	// returns a non-nil slice on a hit.
	v := append([]byte{}, value...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if now.Before(e.expires) && e.version >= version {
			return nil
		}
		e.version, e.value, e.expires = version, v, now.Add(ttl)
		c.lru.MoveToFront(el)
		return nil
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, version: version, value: v, expires: now.Add(ttl)})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
		c.stats.Evictions++
	}
	return nil
}

// Clear drops every entry, for when the cache may hold rows changed
// unheard (sqlstore.ChangedUnknown). Like eviction it forgets versions, so
// the same caveat holds, bounded by the TTL.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.lru.Init()
}

// Stats returns the counters so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.lru.Len()
	return s
}

func (c *Cache) remove(el *list.Element) {
	c.lru.Remove(el)
	delete(c.entries, el.Value.(*cacheEntry).key)
}
