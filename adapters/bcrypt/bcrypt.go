// Package bcrypt hashes passwords with bcrypt (golang.org/x/crypto/bcrypt).
package bcrypt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	xbcrypt "golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.PasswordHasher = (*Hasher)(nil)

// ErrMalformedHash marks a stored hash that bcrypt cannot read (truncated,
// another scheme, corrupted). Compare wraps it together with
// domain.ErrInvalidCredentials: the client sees a failed login like any
// other, while the log can tell a broken row from a wrong password.
var ErrMalformedHash = errors.New("stored password hash is malformed")

// Hasher implements ports.PasswordHasher.
//
// Pre-hash: bcrypt reads only the first 72 bytes of its input, and API.md
// allows 128-character passwords (up to 512 bytes of UTF-8) that must never
// be silently truncated. So bcrypt is run over base64(SHA-256(password)):
// 44 bytes, all printable, so no NUL byte (which some bcrypt implementations
// treat as the end of the input) and always under the 72-byte limit, while
// every byte of the password still counts. Standard base64 rather than the
// raw 32-byte digest for the NUL reason. The stored form stays a plain
// "$2a$<cost>$…" bcrypt string; changing the pre-hash would invalidate every
// stored hash, which TestStoredFormat pins.
//
// Hash and Compare run on the caller's goroutine and take tens of
// milliseconds of CPU at production costs; how many run at once is bounded
// by the caller (AUTH_HASH_WORKERS), not here.
type Hasher struct {
	cost int
}

// NewHasher returns a hasher that makes hashes of the given bcrypt cost.
// It panics when cost is outside [bcrypt.MinCost, bcrypt.MaxCost]: config
// validates the production range, and x/crypto would otherwise silently
// replace a too-low cost by its default.
func NewHasher(cost int) *Hasher {
	if cost < xbcrypt.MinCost || cost > xbcrypt.MaxCost {
		panic(fmt.Sprintf("bcrypt: cost %d outside [%d, %d]", cost, xbcrypt.MinCost, xbcrypt.MaxCost))
	}
	return &Hasher{cost: cost}
}

// Hash returns the bcrypt hash of the pre-hashed pw. It returns ctx's error,
// without hashing, when ctx is already done.
func (h *Hasher) Hash(ctx context.Context, pw domain.Password) (domain.PasswordHash, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("bcrypt: hash: %w", err)
	}
	b, err := xbcrypt.GenerateFromPassword(prehash(pw), h.cost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: hash: %w", err)
	}
	return domain.PasswordHash(b), nil
}

// Compare returns nil when pw matches hash and an error wrapping
// domain.ErrInvalidCredentials when it does not. A hash bcrypt cannot parse
// is a mismatch too, wrapped with ErrMalformedHash as well. When ctx is
// already done it returns ctx's error (not ErrInvalidCredentials) without
// doing any work; once started, a comparison runs to the end.
func (h *Hasher) Compare(ctx context.Context, hash domain.PasswordHash, pw domain.Password) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bcrypt: compare: %w", err)
	}
	err := xbcrypt.CompareHashAndPassword([]byte(hash), prehash(pw))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, xbcrypt.ErrMismatchedHashAndPassword):
		return domain.ErrInvalidCredentials
	default:
		// err names the defect (bad prefix, bad cost, too short) and never
		// contains the hash or the password.
		return fmt.Errorf("%w: %w: %w", domain.ErrInvalidCredentials, ErrMalformedHash, err)
	}
}

// NeedsRehash reports whether hash was made with a lower cost than the
// hasher's. A hash of a higher cost is kept: lowering AUTH_BCRYPT_COST makes
// new hashes cheaper without weakening existing ones. A hash bcrypt cannot
// parse reports false: it never matches, so there is no login at which to
// upgrade it.
func (h *Hasher) NeedsRehash(hash domain.PasswordHash) bool {
	cost, err := xbcrypt.Cost([]byte(hash))
	if err != nil {
		return false
	}
	return cost < h.cost
}

// prehash is the input bcrypt actually sees; see Hasher.
func prehash(pw domain.Password) []byte {
	sum := sha256.Sum256(pw.Bytes())
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum[:])
	return out
}
