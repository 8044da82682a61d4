package memory

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// CredentialCache remembers, for a while, that a user's password was
// checked, so a repeat login with the same password can skip bcrypt (the
// idea of Elasticsearch's realm cache; AUTH_CREDENTIAL_CACHE_TTL).
//
// What it keeps per user is only HMAC-SHA256(key, user id, stored hash,
// password) and an expiry, under a key drawn from crypto/rand when the cache
// is made and never exported: a heap dump holds no password and nothing
// that can be tested against guesses without the key, and the key dies with
// the process. The stored hash is part of the MAC so that a password change
// made anywhere, on another instance too, invalidates the entry here as soon
// as the caller reads the new hash from the store.
//
// An entry lives for ttl from the bcrypt check that made it; a hit does not
// extend it, so a remembered password is re-checked with bcrypt at least
// once per ttl. At most maxEntries users are remembered; past that, the
// entry closest to expiry goes first.
//
// It is safe for concurrent use.
type CredentialCache struct {
	key        [32]byte
	ttl        time.Duration
	maxEntries int
	clock      ports.Clock

	mu      sync.Mutex
	entries map[domain.UserID]*list.Element
	// order holds *credential oldest first; as every entry lives for the
	// same ttl, that is also expiry order.
	order list.List
}

type credential struct {
	id      domain.UserID
	mac     [sha256.Size]byte
	expires time.Time
}

// NewCredentialCache returns an empty cache with a fresh random key. It
// panics when ttl or maxEntries is not positive: an "off" cache is no cache
// (the caller passes nil), not one that remembers nothing.
func NewCredentialCache(ttl time.Duration, maxEntries int, clock ports.Clock) *CredentialCache {
	if ttl <= 0 || maxEntries <= 0 {
		panic(fmt.Sprintf("memory: credential cache needs a positive ttl and size, got %v and %d", ttl, maxEntries))
	}
	c := &CredentialCache{ttl: ttl, maxEntries: maxEntries, clock: clock, entries: map[domain.UserID]*list.Element{}}
	_, _ = rand.Read(c.key[:]) // crypto/rand.Read never fails (Go 1.24+).
	return c
}

// Verified reports whether pw was remembered for this user with this stored
// hash, within its ttl. The MACs are compared in constant time.
func (c *CredentialCache) Verified(id domain.UserID, hash domain.PasswordHash, pw domain.Password) bool {
	mac := c.mac(id, hash, pw)
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return false
	}
	cred := e.Value.(*credential)
	if !now.Before(cred.expires) {
		c.removeLocked(e)
		return false
	}
	return hmac.Equal(cred.mac[:], mac[:])
}

// Remember records that pw matched hash for this user, replacing whatever
// was remembered for the user before. Call it only after the hasher said
// so.
func (c *CredentialCache) Remember(id domain.UserID, hash domain.PasswordHash, pw domain.Password) {
	mac := c.mac(id, hash, pw)
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		c.removeLocked(e)
	}
	// Expired entries sit at the front; drop them before counting.
	for e := c.order.Front(); e != nil && !now.Before(e.Value.(*credential).expires); e = c.order.Front() {
		c.removeLocked(e)
	}
	for c.order.Len() >= c.maxEntries {
		c.removeLocked(c.order.Front())
	}
	c.entries[id] = c.order.PushBack(&credential{id: id, mac: mac, expires: now.Add(c.ttl)})
}

// Forget drops what is remembered for the user, if anything.
func (c *CredentialCache) Forget(id domain.UserID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		c.removeLocked(e)
	}
}

// String and GoString keep the key out of anything that formats the cache
// with fmt (which would otherwise print unexported fields).
func (c *CredentialCache) String() string   { return "memory.CredentialCache{[redacted]}" }
func (c *CredentialCache) GoString() string { return c.String() }

// Len is how many users are remembered, expired ones not yet dropped
// included; for tests and metrics.
func (c *CredentialCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *CredentialCache) removeLocked(e *list.Element) {
	delete(c.entries, c.order.Remove(e).(*credential).id)
}

// mac binds the three inputs with length prefixes, so no two different
// triples ("ab","c" and "a","bc") feed the HMAC the same bytes.
func (c *CredentialCache) mac(id domain.UserID, hash domain.PasswordHash, pw domain.Password) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key[:])
	writeField(m, string(id))
	writeField(m, string(hash))
	writeField(m, pw.Reveal())
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

func writeField(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}
