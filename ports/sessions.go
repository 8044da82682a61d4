package ports

import (
	"context"
	"time"

	"github.com/authd/authd/domain"
)

// SessionStore keeps sessions and the hashes of their refresh tokens. It is
// the source of truth for whether a session is alive.
type SessionStore interface {
	// Create stores a new session with its first refresh token.
	Create(ctx context.Context, s domain.Session, first domain.RefreshToken) error
	// ByID returns the session whether live or not, or domain.ErrNotFound.
	ByID(ctx context.Context, id domain.SessionID) (domain.Session, error)
	// ListLive returns the user's sessions that are live at now, newest first.
	ListLive(ctx context.Context, user domain.UserID, now time.Time) ([]domain.Session, error)
	// Revoke marks the session revoked at now (a no-op when it already is)
	// and returns it. Returns domain.ErrNotFound for an unknown id.
	Revoke(ctx context.Context, id domain.SessionID, now time.Time) (domain.Session, error)
	// RevokeAllOf revokes every live session of the user except keep (which
	// may be empty) and returns the ids it revoked.
	RevokeAllOf(ctx context.Context, user domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error)
	// Exchange finds the refresh token with this hash and, holding a lock on
	// it and its session so concurrent exchanges of one token run one after
	// the other, calls fn with both. fn may change the session and mark the
	// token rotated; a non-nil next is stored as a new token of the session.
	// Everything fn changed is committed together and the stored session is
	// returned. If fn returns an error nothing is written and that error is
	// returned. Returns domain.ErrNotFound when no token has this hash.
	Exchange(ctx context.Context, hash domain.TokenHash, fn ExchangeFunc) (domain.Session, error)
}

// ExchangeFunc decides a refresh; see SessionStore.Exchange.
type ExchangeFunc func(s *domain.Session, t *domain.RefreshToken) (next *domain.RefreshToken, err error)
