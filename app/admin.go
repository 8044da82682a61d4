package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// The admin use cases check the caller's role themselves, so no adapter can
// expose them to a non-admin by forgetting a middleware.
func requireAdmin(p Principal) error {
	if p.User.Role != domain.RoleAdmin {
		return domain.ErrForbidden
	}
	return nil
}

// UserPage is one page of an administrator's user listing.
type UserPage struct {
	Users []domain.User
	// Next is the id to continue after, empty on the last page.
	Next domain.UserID
}

// MaxPageSize bounds one listing page.
const MaxPageSize = 100

// ListUsers returns one page of users in id order (see
// ports.UserDirectory). limit is clamped to 1..MaxPageSize by the caller's
// validation; 0 means the default of 50.
func (s *Service) ListUsers(ctx context.Context, p Principal, q ports.UserQuery) (UserPage, error) {
	if err := requireAdmin(p); err != nil {
		return UserPage{}, err
	}
	if s.Directory == nil {
		return UserPage{}, errors.New("list users: no directory configured")
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, MaxPageSize)
	want := q.Limit
	// One extra row tells whether another page exists without a count query.
	q.Limit++
	users, err := s.Directory.List(ctx, q)
	if err != nil {
		return UserPage{}, fmt.Errorf("list users: %w", err)
	}
	page := UserPage{Users: users}
	if len(users) > want {
		page.Users = users[:want]
		page.Next = users[want-1].ID
	}
	return page, nil
}

// User returns one user by id, or domain.ErrNotFound.
func (s *Service) User(ctx context.Context, p Principal, id domain.UserID) (domain.User, error) {
	if err := requireAdmin(p); err != nil {
		return domain.User{}, err
	}
	u, err := s.Users.ByID(ctx, id)
	if err != nil {
		return domain.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// AdminUpdate is an administrator's partial update of an account.
type AdminUpdate struct {
	IsActive Optional[bool]
	Role     Optional[string]
}

// UpdateUser changes activity and role. Deactivating revokes every session
// of the user at once; a role change applies on the user's next request,
// because authentication reads the role from the store. Administrators
// cannot deactivate or demote themselves, so the last admin cannot lock
// everyone out by accident.
func (s *Service) UpdateUser(ctx context.Context, p Principal, id domain.UserID, in AdminUpdate) (domain.User, error) {
	if err := requireAdmin(p); err != nil {
		return domain.User{}, err
	}
	v := &domain.ValidationError{}
	role := domain.Role(in.Role.Value)
	if in.Role.Set && !role.Valid() {
		v.Add("role", `must be "user" or "admin"`)
	}
	if id == p.User.ID {
		if in.IsActive.Set && !in.IsActive.Value {
			v.Add("is_active", "administrators cannot deactivate themselves")
		}
		if in.Role.Set && role != domain.RoleAdmin {
			v.Add("role", "administrators cannot demote themselves")
		}
	}
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}
	now := s.Clock.Now()
	u, err := s.Users.Update(ctx, id, func(u *domain.User) error {
		if in.IsActive.Set {
			u.IsActive = in.IsActive.Value
		}
		if in.Role.Set {
			u.Role = role
		}
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("update user: %w", err)
	}
	if in.IsActive.Set && !in.IsActive.Value {
		s.forgetCredentials(id)
		revoked, err := s.revokeAll(ctx, id)
		if err != nil {
			return domain.User{}, fmt.Errorf("update user: revoke sessions: %w", err)
		}
		s.Logger.InfoContext(ctx, "user deactivated", "user_id", id, "by", p.User.ID, "sessions_revoked", len(revoked))
	}
	if in.Role.Set {
		s.Logger.InfoContext(ctx, "user role set", "user_id", id, "role", u.Role, "by", p.User.ID)
	}
	return u, nil
}

// DeleteUser removes an account; its tokens stop working at once.
func (s *Service) DeleteUser(ctx context.Context, p Principal, id domain.UserID) error {
	if err := requireAdmin(p); err != nil {
		return err
	}
	if id == p.User.ID {
		v := &domain.ValidationError{}
		v.Add("id", "administrators cannot delete themselves")
		return v
	}
	// Revoke first: the user row going away already stops its tokens, but
	// stores that keep sessions apart from users (the in-memory one) must
	// end up in the same state as SQL's cascade.
	if _, err := s.revokeAll(ctx, id); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if err := s.Users.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.forgetCredentials(id)
	s.Logger.InfoContext(ctx, "user deleted", "user_id", id, "by", p.User.ID)
	return nil
}

// CreateAdmin makes an administrator from the command line: a new account
// when the email is unknown, otherwise the existing account promoted and
// reactivated. Either way the password given becomes the account's password
// (so the command also recovers a locked-out administrator) and, for an
// existing account, its sessions are revoked. created tells which happened.
func (s *Service) CreateAdmin(ctx context.Context, name, email, password string) (u domain.User, created bool, err error) {
	u, err = s.Register(ctx, RegisterInput{Name: name, Email: email, Password: password})
	switch {
	case err == nil:
		u, err = s.Users.Update(ctx, u.ID, func(u *domain.User) error { u.Role = domain.RoleAdmin; return nil })
		if err != nil {
			return domain.User{}, false, fmt.Errorf("create admin: %w", err)
		}
		s.Logger.InfoContext(ctx, "admin created", "user_id", u.ID)
		return u, true, nil
	case !errors.Is(err, domain.ErrEmailTaken):
		return domain.User{}, false, err
	}
	addr, _ := domain.ParseEmail(email) // valid: Register got as far as the store
	existing, err := s.Users.ByEmail(ctx, addr)
	if err != nil {
		return domain.User{}, false, fmt.Errorf("create admin: %w", err)
	}
	hash, err := s.Hasher.Hash(ctx, domain.Password(password))
	if err != nil {
		return domain.User{}, false, fmt.Errorf("create admin: %w", err)
	}
	now := s.Clock.Now()
	u, err = s.Users.Update(ctx, existing.ID, func(u *domain.User) error {
		u.Role, u.IsActive, u.PasswordHash, u.UpdatedAt = domain.RoleAdmin, true, hash, now
		return nil
	})
	if err != nil {
		return domain.User{}, false, fmt.Errorf("create admin: %w", err)
	}
	s.forgetCredentials(u.ID)
	if _, err := s.revokeAll(ctx, u.ID); err != nil {
		return domain.User{}, false, fmt.Errorf("create admin: revoke sessions: %w", err)
	}
	s.Logger.InfoContext(ctx, "user promoted to admin", "user_id", u.ID)
	return u, false, nil
}
