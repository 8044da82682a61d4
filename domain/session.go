package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"time"
)

// SessionID is the durable identity behind a pair of tokens; access tokens
// carry it as their "sid" claim.
type SessionID string

// Session is created at login and lives until it expires or is revoked.
// The database holds it; caches only speed up reading it.
type Session struct {
	ID         SessionID
	UserID     UserID
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt slides forward on every refresh, by the refresh token lifetime.
	ExpiresAt time.Time
	RevokedAt *time.Time
	UserAgent string
	IP        string
	// Version grows by one on every committed change (see User.Version).
	Version int64
}

// Live reports whether tokens of this session may still be used at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// Revoke marks s revoked at now; revoking twice keeps the first time.
func (s *Session) Revoke(now time.Time) {
	if s.RevokedAt == nil {
		t := now
		s.RevokedAt = &t
	}
}

// RefreshSecret is the opaque refresh token a client holds. Only its hash is
// stored.
type RefreshSecret string

func (RefreshSecret) String() string       { return "[redacted]" }
func (RefreshSecret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// NewRefreshSecret returns 256 random bits, URL-safe.
func NewRefreshSecret() RefreshSecret {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return RefreshSecret(base64.RawURLEncoding.EncodeToString(b[:]))
}

// TokenHash is the SHA-256 of a refresh secret. A fast hash is right here:
// the secret has 256 bits of entropy, so there is nothing to brute-force.
type TokenHash [32]byte

// Hash returns the stored form of s.
func (s RefreshSecret) Hash() TokenHash { return sha256.Sum256([]byte(s)) }

// Equal compares in constant time.
func (h TokenHash) Equal(o TokenHash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// RefreshToken is the stored record of one issued refresh secret.
type RefreshToken struct {
	Hash      TokenHash
	SessionID SessionID
	IssuedAt  time.Time
	ExpiresAt time.Time
	// RotatedAt is set when the token was exchanged for a new pair.
	RotatedAt *time.Time
}

// Exchange is what presenting a refresh token leads to.
type Exchange int

const (
	// ExchangeRotate: the token is current; rotate it.
	ExchangeRotate Exchange = iota
	// ExchangeGrace: already rotated, but within the reuse interval (two tabs
	// refreshing at once); issue another pair without revoking.
	ExchangeGrace
	// ExchangeReuse: already rotated and past the interval; a stolen token is
	// likely in play, so the whole session is revoked.
	ExchangeReuse
	// ExchangeRefuse: expired token or dead session; plain 401.
	ExchangeRefuse
)

// DecideExchange applies the rotation rule for a presented refresh token.
func DecideExchange(s Session, t RefreshToken, now time.Time, reuseInterval time.Duration) Exchange {
	switch {
	case !s.Live(now) || !now.Before(t.ExpiresAt):
		return ExchangeRefuse
	case t.RotatedAt == nil:
		return ExchangeRotate
	case reuseInterval > 0 && now.Sub(*t.RotatedAt) <= reuseInterval:
		return ExchangeGrace
	default:
		return ExchangeReuse
	}
}
