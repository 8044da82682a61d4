// Package memory holds in-process adapters: fakes of the stores for tests
// (they pass the same contract suites as the SQL stores, so they cannot
// quietly disagree with them) and the in-process cache and rate limiter that
// the embedded default runs on.
package memory

import (
	"context"
	"sync"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.UserStore = (*UserStore)(nil)

// UserStore keeps users in a map. Values are copied in and out, so callers
// never share memory with the store.
type UserStore struct {
	mu      sync.RWMutex
	byID    map[domain.UserID]domain.User
	byEmail map[domain.Email]domain.UserID
}

// NewUserStore returns an empty store.
func NewUserStore() *UserStore {
	return &UserStore{byID: map[domain.UserID]domain.User{}, byEmail: map[domain.Email]domain.UserID{}}
}

func (s *UserStore) Create(_ context.Context, u domain.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.byEmail[u.Email]; taken {
		return domain.ErrEmailTaken
	}
	u.Version = 1
	s.byID[u.ID] = cloneUser(u)
	s.byEmail[u.Email] = u.ID
	return nil
}

func (s *UserStore) ByEmail(_ context.Context, email domain.Email) (domain.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byEmail[email]
	if !ok {
		return domain.User{}, domain.ErrNotFound
	}
	return cloneUser(s.byID[id]), nil
}

func (s *UserStore) ByID(_ context.Context, id domain.UserID) (domain.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.byID[id]
	if !ok {
		return domain.User{}, domain.ErrNotFound
	}
	return cloneUser(u), nil
}

func (s *UserStore) Update(_ context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byID[id]
	if !ok {
		return domain.User{}, domain.ErrNotFound
	}
	u := cloneUser(old)
	if err := fn(&u); err != nil {
		return domain.User{}, err
	}
	u.ID = old.ID // the id is the key; fn may not move the record
	if u.Email != old.Email {
		if _, taken := s.byEmail[u.Email]; taken {
			return domain.User{}, domain.ErrEmailTaken
		}
		delete(s.byEmail, old.Email)
		s.byEmail[u.Email] = id
	}
	u.Version = old.Version + 1
	s.byID[id] = cloneUser(u)
	return cloneUser(u), nil
}

func (s *UserStore) Delete(_ context.Context, id domain.UserID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return domain.ErrNotFound
	}
	delete(s.byID, id)
	delete(s.byEmail, u.Email)
	return nil
}

// cloneUser deep-copies the profile pointers so no caller can reach into
// the store's copy.
func cloneUser(u domain.User) domain.User {
	u.Profile = domain.Profile{
		FirstName:   clonePtr(u.Profile.FirstName),
		LastName:    clonePtr(u.Profile.LastName),
		PhoneNumber: clonePtr(u.Profile.PhoneNumber),
		Address:     clonePtr(u.Profile.Address),
	}
	return u
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
