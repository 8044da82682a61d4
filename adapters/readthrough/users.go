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

var _ ports.UserStore = (*UserStore)(nil)

// UserStore caches ByID, the read behind every authenticated request.
// ByEmail (login) goes to the store: it is behind bcrypt anyway, and an
// email index in the cache would need its own invalidation on every email
// change.
type UserStore struct {
	inner   ports.UserStore
	l       *layer
	decoded *memo[foundUser]
}

// foundUser is a decoded entry; found is false for a tombstone.
type foundUser struct {
	user  domain.User
	found bool
}

func decodeFoundUser(b []byte) (foundUser, error) {
	u, found, err := decodeUser(b)
	return foundUser{u, found}, err
}

// cloneFoundUser copies the profile's pointers, so no caller can change
// what the memo hands the next one.
func cloneFoundUser(f foundUser) foundUser {
	p := &f.user.Profile
	p.FirstName, p.LastName = clonePtr(p.FirstName), clonePtr(p.LastName)
	p.PhoneNumber, p.Address = clonePtr(p.PhoneNumber), clonePtr(p.Address)
	return f
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// NewUserStore wraps inner with cache.
func NewUserStore(inner ports.UserStore, cache ports.Cache, o Options) *UserStore {
	return &UserStore{inner: inner, l: newLayer(cache, o, "user"), decoded: newMemo(cloneFoundUser)}
}

// userPrefix names the encoding; change it when cachedUser changes shape,
// so instances of two releases never read each other's entries.
const userPrefix = "user:v1:"

func userKey(id domain.UserID) string { return userPrefix + string(id) }

// Create goes to the store only. A new id has nothing cached to replace,
// and the first ByID fills the cache.
func (s *UserStore) Create(ctx context.Context, u domain.User) error {
	return s.inner.Create(ctx, u)
}

// ByEmail goes to the store (see UserStore).
func (s *UserStore) ByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	return s.inner.ByEmail(ctx, email)
}

// ByID answers from the cache when it can.
func (s *UserStore) ByID(ctx context.Context, id domain.UserID) (domain.User, error) {
	key := userKey(id)
	b, st := s.l.get(ctx, key)
	if st == hit {
		d, err := s.decoded.decode(key, b, decodeFoundUser)
		u, found := d.user, d.found
		switch {
		case err == nil && !found:
			return domain.User{}, domain.ErrNotFound
		case err == nil && u.ID == id:
			return u, nil
		}
		s.l.readWarn.warn(ctx, s.l.log, "unreadable cache entry; reading the store", "key", key, "err", err)
		st = bypass
	}
	u, err := s.inner.ByID(ctx, id)
	if err == nil && st == miss {
		b, encErr := encodeUser(u)
		s.l.fill(ctx, key, u.Version, b, encErr)
	}
	return u, err
}

// Update writes through: the store's result, with its new Version, goes
// to the cache.
func (s *UserStore) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	var fnErr error
	u, err := s.inner.Update(ctx, id, func(u *domain.User) error {
		fnErr = fn(u)
		return fnErr
	})
	if err != nil {
		if !nothingWritten(err, fnErr) {
			// The store may have committed before failing (a lost commit
			// reply): the cache learns the outcome by reloading.
			s.l.repair(userKey(id), s.reload(id))
		}
		return u, err
	}
	b, encErr := encodeUser(u)
	s.l.write(ctx, userKey(id), u.Version, b, encErr, s.reload(id))
	return u, nil
}

// Delete puts a tombstone, so that no reader can put the deleted user back.
func (s *UserStore) Delete(ctx context.Context, id domain.UserID) error {
	err := s.inner.Delete(ctx, id)
	switch {
	case err == nil:
		s.l.write(ctx, userKey(id), math.MaxInt64, tombstone, nil, s.reload(id))
	case !nothingWritten(err, nil):
		s.l.repair(userKey(id), s.reload(id))
	}
	return err
}

// Changed says that another process changed or deleted user id in the
// store; see SessionStore.Changed.
func (s *UserStore) Changed(id domain.UserID) {
	s.l.changed(userKey(id), s.reload(id))
}

// PendingRepairs is how many keys wait to be put again after a failed
// cache write, for metrics: above zero, the cache was failing writes.
func (s *UserStore) PendingRepairs() int { return s.l.pendingRepairs() }

func (s *UserStore) reload(id domain.UserID) reloadFunc {
	return func(ctx context.Context) (int64, []byte, error) {
		u, err := s.inner.ByID(ctx, id)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return math.MaxInt64, tombstone, nil
		case err != nil:
			return 0, nil, err
		}
		b, err := encodeUser(u)
		return u.Version, b, err
	}
}

// nothingWritten reports whether a store's error means the write did not
// happen: the row was not there, the email was taken, or fn refused.
func nothingWritten(err, fnErr error) bool {
	return errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrEmailTaken) ||
		(fnErr != nil && errors.Is(err, fnErr))
}

// tombstone is the cached value of a deleted row: JSON null.
var tombstone = []byte("null")

// cachedUser is the cached form of domain.User, every field included. The
// password hash is in it because ByID callers (password change) need it;
// it leaves the process only for the cache (Redis), never for a client or
// a log.
type cachedUser struct {
	ID           domain.UserID       `json:"id"`
	Name         string              `json:"name"`
	Email        domain.Email        `json:"email"`
	PasswordHash domain.PasswordHash `json:"password_hash"`
	IsActive     bool                `json:"is_active"`
	Role         domain.Role         `json:"role"`
	FirstName    *string             `json:"first_name"`
	LastName     *string             `json:"last_name"`
	PhoneNumber  *string             `json:"phone_number"`
	Address      *string             `json:"address"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
	Version      int64               `json:"version"`
}

// encodeUser fails only for a time JSON cannot hold (a year outside
// 0–9999).
func encodeUser(u domain.User) ([]byte, error) {
	return json.Marshal(cachedUser{
		ID: u.ID, Name: u.Name, Email: u.Email, PasswordHash: u.PasswordHash,
		IsActive: u.IsActive, Role: u.Role,
		FirstName: u.Profile.FirstName, LastName: u.Profile.LastName,
		PhoneNumber: u.Profile.PhoneNumber, Address: u.Profile.Address,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Version: u.Version,
	})
}

// decodeUser returns found false for a tombstone.
func decodeUser(b []byte) (domain.User, bool, error) {
	var c *cachedUser
	if err := json.Unmarshal(b, &c); err != nil {
		return domain.User{}, false, err
	}
	if c == nil {
		return domain.User{}, false, nil
	}
	return domain.User{
		ID: c.ID, Name: c.Name, Email: c.Email, PasswordHash: c.PasswordHash,
		IsActive: c.IsActive, Role: c.Role,
		Profile: domain.Profile{
			FirstName: c.FirstName, LastName: c.LastName,
			PhoneNumber: c.PhoneNumber, Address: c.Address,
		},
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
	}, true, nil
}
