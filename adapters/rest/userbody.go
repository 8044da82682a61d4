package rest

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/authd/authd/domain"
)

// userBodies remembers the JSON of the last user object answered for each
// user, so GET /auth/me encodes a user once per change rather than once per
// request.
//
// A warm GET /auth/me reads its user from the cache in a microsecond or
// two; encoding it through reflection took longer than that (a third of
// authd's own work per request, perf/results/me-cache.md). An entry serves
// only a user whose every answered field is equal to the one it was encoded
// from, compared by value, so it can never answer a changed user, whatever
// the store does with versions or pointers.
type userBodies struct {
	mu  sync.RWMutex
	m   map[domain.UserID]userBody
	max int
}

type userBody struct {
	user domain.User
	body []byte
}

// userBodyEntries bounds the memo: at about 600 bytes an entry, 2-3 MB.
// Past it the memo starts over, which costs a few encodings and keeps the
// code free of eviction bookkeeping.
const userBodyEntries = 4096

func newUserBodies() *userBodies {
	return &userBodies{m: make(map[domain.UserID]userBody), max: userBodyEntries}
}

// body returns u's user object as encoding/json writes it (with the
// trailing newline of json.Encoder, as echo's c.JSON sends it). The slice
// is shared: callers must not change it.
func (ub *userBodies) body(u domain.User) ([]byte, error) {
	ub.mu.RLock()
	e, ok := ub.m[u.ID]
	ub.mu.RUnlock()
	if ok && sameAnswer(e.user, u) {
		return e.body, nil
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(newUserResponse(u)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	ub.mu.Lock()
	if len(ub.m) >= ub.max {
		clear(ub.m)
	}
	// The password hash is no part of the answer; it is not kept.
	u.PasswordHash = ""
	ub.m[u.ID] = userBody{user: u, body: b}
	ub.mu.Unlock()
	return b, nil
}

// sameAnswer reports whether a and b have the same user object: every
// field newUserResponse reads, compared by value.
func sameAnswer(a, b domain.User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email &&
		a.IsActive == b.IsActive && a.Role == b.Role &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		sameString(a.Profile.FirstName, b.Profile.FirstName) &&
		sameString(a.Profile.LastName, b.Profile.LastName) &&
		sameString(a.Profile.PhoneNumber, b.Profile.PhoneNumber) &&
		sameString(a.Profile.Address, b.Profile.Address)
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
