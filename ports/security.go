package ports

import (
	"context"
	"time"

	"github.com/authd/authd/domain"
)

// PasswordHasher turns passwords into slow, salted hashes and checks them.
type PasswordHasher interface {
	// Hash returns the encoded hash of pw.
	Hash(ctx context.Context, pw domain.Password) (domain.PasswordHash, error)
	// Compare returns nil when pw matches hash and
	// domain.ErrInvalidCredentials when it does not. Any other error (a
	// cancelled ctx, domain.ErrOverloaded) means no answer was reached.
	Compare(ctx context.Context, hash domain.PasswordHash, pw domain.Password) error
	// NeedsRehash reports whether hash was made with weaker settings than
	// the hasher's current ones.
	NeedsRehash(hash domain.PasswordHash) bool
}

// TokenIssuer signs and verifies access tokens.
type TokenIssuer interface {
	// Issue signs c. The issuer adds its own iss and aud.
	Issue(ctx context.Context, c domain.AccessClaims) (domain.AccessToken, error)
	// Verify checks signature, algorithm, issuer, audience and expiry and
	// returns the claims, or an error wrapping domain.ErrUnauthenticated.
	Verify(ctx context.Context, token string) (domain.AccessClaims, error)
}

// Clock tells the time; tests pass a fake one.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock (time.Now is one).
type ClockFunc func() time.Time

func (f ClockFunc) Now() time.Time { return f() }
