package jwt

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"

	"github.com/authd/authd/domain"
)

// verified remembers tokens whose signature and claims have been checked,
// until they expire. Every authenticated request presents its token again,
// and parsing it (two JSON documents and an HMAC) was the largest cost of a
// cached GET /auth/me (perf/results/me-cache.md). Once a token has passed,
// only time can change the verdict, so a hit re-checks expiry and nothing
// else; revocation never depended on this check (app checks the session on
// every request).
//
// Entries are keyed by the SHA-256 of the token, not the token: a lookup
// then compares digests of attacker-chosen input, which says nothing about
// any real token, where comparing token strings could leak their prefixes
// through timing.
type verified struct {
	mu  sync.RWMutex
	m   map[tokenKey]verifiedEntry
	max int
}

type verifiedEntry struct {
	claims domain.AccessClaims
	until  time.Time // exp plus Leeway
}

// verifiedEntries bounds the cache: about 200 bytes an entry, and more
// active tokens than one instance serves in a token lifetime at our rates.
const verifiedEntries = 65536

func newVerified() *verified {
	return &verified{m: map[tokenKey]verifiedEntry{}, max: verifiedEntries}
}

// tokenKey is what the cache is keyed by; Verify computes it once for
// both the lookup and, on a miss, the insert.
type tokenKey = [sha256.Size]byte

// keyOf hashes the token's bytes in place: a []byte(token) conversion would
// copy every token (a quarter kilobyte) onto the heap on every request, and
// Sum256 only reads its input.
func keyOf(token string) tokenKey {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

func (v *verified) get(k tokenKey, now time.Time) (domain.AccessClaims, bool) {
	v.mu.RLock()
	e, ok := v.m[k]
	v.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return domain.AccessClaims{}, false
	}
	return e.claims, true
}

func (v *verified) put(k tokenKey, c domain.AccessClaims, until time.Time, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= v.max {
		for key, e := range v.m {
			if !now.Before(e.until) {
				delete(v.m, key)
			}
		}
		if len(v.m) >= v.max {
			clear(v.m) // all live: start over rather than track recency
		}
	}
	v.m[k] = verifiedEntry{claims: c, until: until}
}
