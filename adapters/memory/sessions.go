package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.SessionStore = (*SessionStore)(nil)

// SessionStore keeps sessions and refresh-token hashes in maps. One mutex
// serialises writers, which gives Exchange the one-at-a-time guarantee the
// port asks for.
type SessionStore struct {
	mu       sync.RWMutex
	sessions map[domain.SessionID]domain.Session
	tokens   map[domain.TokenHash]domain.RefreshToken
}

// NewSessionStore returns an empty store.
func NewSessionStore() *SessionStore {
	return &SessionStore{sessions: map[domain.SessionID]domain.Session{}, tokens: map[domain.TokenHash]domain.RefreshToken{}}
}

func (s *SessionStore) Create(_ context.Context, sess domain.Session, first domain.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.Version = 1
	s.sessions[sess.ID] = cloneSession(sess)
	first.SessionID = sess.ID
	s.tokens[first.Hash] = cloneToken(first)
	return nil
}

func (s *SessionStore) ByID(_ context.Context, id domain.SessionID) (domain.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.Session{}, domain.ErrNotFound
	}
	return cloneSession(sess), nil
}

func (s *SessionStore) ListLive(_ context.Context, user domain.UserID, now time.Time) ([]domain.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Session
	for _, sess := range s.sessions {
		if sess.UserID == user && sess.Live(now) {
			out = append(out, cloneSession(sess))
		}
	}
	slices.SortFunc(out, func(a, b domain.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out, nil
}

func (s *SessionStore) Revoke(_ context.Context, id domain.SessionID, now time.Time) (domain.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.Session{}, domain.ErrNotFound
	}
	if sess.RevokedAt == nil {
		sess.Revoke(now)
		sess.Version++
		s.sessions[id] = sess
	}
	return cloneSession(sess), nil
}

func (s *SessionStore) RevokeAllOf(_ context.Context, user domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []domain.SessionID
	for id, sess := range s.sessions {
		if sess.UserID != user || id == keep || !sess.Live(now) {
			continue
		}
		sess.Revoke(now)
		sess.Version++
		s.sessions[id] = sess
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

func (s *SessionStore) Exchange(_ context.Context, hash domain.TokenHash, fn ports.ExchangeFunc) (domain.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[hash]
	if !ok {
		return domain.Session{}, domain.ErrNotFound
	}
	sess, ok := s.sessions[tok.SessionID]
	if !ok {
		return domain.Session{}, domain.ErrNotFound
	}
	sess, tok = cloneSession(sess), cloneToken(tok)
	id := sess.ID
	next, err := fn(&sess, &tok)
	if err != nil {
		return domain.Session{}, err
	}
	sess.ID, tok.Hash, tok.SessionID = id, hash, id // fn may not move records
	sess.Version++
	s.sessions[id] = cloneSession(sess)
	s.tokens[hash] = cloneToken(tok)
	if next != nil {
		n := cloneToken(*next)
		n.SessionID = id
		s.tokens[n.Hash] = n
	}
	return cloneSession(sess), nil
}

func cloneSession(s domain.Session) domain.Session {
	s.RevokedAt = clonePtr(s.RevokedAt)
	return s
}

func cloneToken(t domain.RefreshToken) domain.RefreshToken {
	t.RotatedAt = clonePtr(t.RotatedAt)
	return t
}
