package readthrough

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.SessionStore = (*SessionStore)(nil)

// SessionStore caches ByID, which every authenticated request reads to
// check that its session is live. Every write that can end or change a
// session (Revoke, RevokeAllOf, Exchange) puts the stored result in the
// cache; Create and ListLive go to the store.
type SessionStore struct {
	inner   ports.SessionStore
	l       *layer
	decoded *memo[foundSession]
}

// foundSession is a decoded entry; found is false for a tombstone.
type foundSession struct {
	session domain.Session
	found   bool
}

func decodeFoundSession(b []byte) (foundSession, error) {
	s, found, err := decodeSession(b)
	return foundSession{s, found}, err
}

func cloneFoundSession(f foundSession) foundSession {
	f.session.RevokedAt = clonePtr(f.session.RevokedAt)
	return f
}

// NewSessionStore wraps inner with cache.
func NewSessionStore(inner ports.SessionStore, cache ports.Cache, o Options) *SessionStore {
	return &SessionStore{inner: inner, l: newLayer(cache, o, "session"), decoded: newMemo(cloneFoundSession)}
}

// sessionPrefix names the encoding; see userPrefix.
const sessionPrefix = "session:v1:"

func sessionKey(id domain.SessionID) string { return sessionPrefix + string(id) }

// Create goes to the store only: a new id has nothing cached to replace.
func (s *SessionStore) Create(ctx context.Context, sess domain.Session, first domain.RefreshToken) error {
	return s.inner.Create(ctx, sess, first)
}

// ByID answers from the cache when it can. A cached session that looks
// expired is read from the store again: a refresh slides a session's
// expiry, and rotations are not announced to other instances
// (sqlstore.DB.Watch), so their cached copy of a session refreshed near
// its end can hold the old expiry. Only a session that ends is read twice.
func (s *SessionStore) ByID(ctx context.Context, id domain.SessionID) (domain.Session, error) {
	key := sessionKey(id)
	b, st := s.l.get(ctx, key)
	if st == hit {
		d, err := s.decoded.decode(key, b, decodeFoundSession)
		sess, found := d.session, d.found
		switch {
		case err == nil && !found:
			return domain.Session{}, domain.ErrNotFound
		case err == nil && sess.ID == id && sess.RevokedAt == nil && !s.l.clock.Now().Before(sess.ExpiresAt):
			st = miss
		case err == nil && sess.ID == id:
			return sess, nil
		default:
			s.l.readWarn.warn(ctx, s.l.log, "unreadable cache entry; reading the store", "key", key, "err", err)
			st = bypass
		}
	}
	sess, err := s.inner.ByID(ctx, id)
	if err == nil && st == miss {
		b, encErr := encodeSession(sess)
		s.l.fill(ctx, key, sess.Version, b, encErr)
	}
	return sess, err
}

// ListLive goes to the store: a listing has no single version to cache by.
func (s *SessionStore) ListLive(ctx context.Context, user domain.UserID, now time.Time) ([]domain.Session, error) {
	return s.inner.ListLive(ctx, user, now)
}

// Revoke writes the revoked session through.
func (s *SessionStore) Revoke(ctx context.Context, id domain.SessionID, now time.Time) (domain.Session, error) {
	sess, err := s.inner.Revoke(ctx, id, now)
	if err != nil {
		if !nothingWritten(err, nil) {
			s.l.repair(sessionKey(id), s.reload(id))
		}
		return sess, err
	}
	s.writeThrough(ctx, sess)
	return sess, nil
}

// RevokeAllOf writes each revoked session through. The port returns only
// ids, so each is read back from the store to learn its new Version (a few
// reads, on a rare path, rather than a change to the port). If the store
// fails, the sessions live before the call are reloaded in the background,
// since the store may have revoked them and only lost its reply.
func (s *SessionStore) RevokeAllOf(ctx context.Context, user domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error) {
	before, listErr := s.inner.ListLive(ctx, user, now)
	ids, err := s.inner.RevokeAllOf(ctx, user, keep, now)
	if err != nil {
		if listErr != nil {
			s.l.log.ErrorContext(ctx, "revoking sessions failed and they could not be listed; cached ones may look live until their TTL",
				"user_id", user, "err", err, "list_err", listErr, "ttl", s.l.ttl)
		}
		for _, sess := range before {
			s.l.repair(sessionKey(sess.ID), s.reload(sess.ID))
		}
		return ids, err
	}
	for _, id := range ids {
		sess, err := s.inner.ByID(ctx, id)
		if err != nil {
			s.l.writeWarn.warn(ctx, s.l.log, "reading back a revoked session failed; repairing in the background",
				"session_id", id, "err", err)
			s.l.repair(sessionKey(id), s.reload(id))
			continue
		}
		s.writeThrough(ctx, sess)
	}
	return ids, nil
}

// Exchange writes the stored session through. The session's id is learnt
// from the call to fn, so that a store failure after fn ran can still be
// repaired.
func (s *SessionStore) Exchange(ctx context.Context, hash domain.TokenHash, fn ports.ExchangeFunc) (domain.Session, error) {
	var (
		id    domain.SessionID
		fnErr error
	)
	sess, err := s.inner.Exchange(ctx, hash, func(sess *domain.Session, t *domain.RefreshToken) (*domain.RefreshToken, error) {
		id = sess.ID
		next, err := fn(sess, t)
		fnErr = err
		return next, err
	})
	if err != nil {
		if id != "" && !nothingWritten(err, fnErr) {
			s.l.repair(sessionKey(id), s.reload(id))
		}
		return sess, err
	}
	s.writeThrough(ctx, sess)
	return sess, nil
}

// Changed says that another process changed session id in the store
// (sqlstore.DB.Watch hears it from the database): this instance reads it
// from the store until the stored row is back in the cache, where every
// instance then finds it. It covers the instance that made the change
// being unable to write it to the cache.
func (s *SessionStore) Changed(id domain.SessionID) {
	s.l.changed(sessionKey(id), s.reload(id))
}

// PendingRepairs is how many keys wait to be put again after a failed
// cache write, for metrics: above zero, the cache was failing writes.
func (s *SessionStore) PendingRepairs() int { return s.l.pendingRepairs() }

func (s *SessionStore) writeThrough(ctx context.Context, sess domain.Session) {
	b, encErr := encodeSession(sess)
	s.l.write(ctx, sessionKey(sess.ID), sess.Version, b, encErr, s.reload(sess.ID))
}

func (s *SessionStore) reload(id domain.SessionID) reloadFunc {
	return func(ctx context.Context) (int64, []byte, error) {
		sess, err := s.inner.ByID(ctx, id)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			// Gone with its user (SQL cascades).
			return math.MaxInt64, tombstone, nil
		case err != nil:
			return 0, nil, err
		}
		b, err := encodeSession(sess)
		return sess.Version, b, err
	}
}

// cachedSession is the cached form of domain.Session, every field included.
type cachedSession struct {
	ID         domain.SessionID `json:"id"`
	UserID     domain.UserID    `json:"user_id"`
	CreatedAt  time.Time        `json:"created_at"`
	LastUsedAt time.Time        `json:"last_used_at"`
	ExpiresAt  time.Time        `json:"expires_at"`
	RevokedAt  *time.Time       `json:"revoked_at"`
	UserAgent  string           `json:"user_agent"`
	IP         string           `json:"ip"`
	Version    int64            `json:"version"`
}

// encodeSession fails only for a time JSON cannot hold.
func encodeSession(s domain.Session) ([]byte, error) {
	return json.Marshal(cachedSession{
		ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
		ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt, UserAgent: s.UserAgent, IP: s.IP,
		Version: s.Version,
	})
}

// decodeSession returns found false for a tombstone.
func decodeSession(b []byte) (domain.Session, bool, error) {
	var c *cachedSession
	if err := json.Unmarshal(b, &c); err != nil {
		return domain.Session{}, false, err
	}
	if c == nil {
		return domain.Session{}, false, nil
	}
	return domain.Session{
		ID: c.ID, UserID: c.UserID, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt,
		ExpiresAt: c.ExpiresAt, RevokedAt: c.RevokedAt, UserAgent: c.UserAgent, IP: c.IP,
		Version: c.Version,
	}, true, nil
}
