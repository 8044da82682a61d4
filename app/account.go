package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/authd/authd/domain"
)

// Optional is a field of a partial update: Set is false when the client
// left it out, which is different from setting it to null.
type Optional[T any] struct {
	Set   bool
	Value T
}

// Some returns a set Optional.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// ProfileUpdate is a partial update of the caller's own account. Profile
// values may be set to nil, which clears them.
type ProfileUpdate struct {
	Name        Optional[string]
	FirstName   Optional[*string]
	LastName    Optional[*string]
	PhoneNumber Optional[*string]
	Address     Optional[*string]
}

// UpdateProfile applies a partial update to the caller's account and returns
// the stored result. Invalid fields give a *domain.ValidationError naming
// every one ("name", "profile.phone_number"), and then nothing changes.
func (s *Service) UpdateProfile(ctx context.Context, p Principal, in ProfileUpdate) (domain.User, error) {
	v := &domain.ValidationError{}
	var name string
	if in.Name.Set {
		var err error
		name, err = domain.ParseName(in.Name.Value)
		v.Merge("", err)
	}
	fields := []struct {
		json string
		opt  Optional[*string]
		set  func(*domain.Profile, *string)
	}{
		{"first_name", in.FirstName, func(p *domain.Profile, x *string) { p.FirstName = x }},
		{"last_name", in.LastName, func(p *domain.Profile, x *string) { p.LastName = x }},
		{"phone_number", in.PhoneNumber, func(p *domain.Profile, x *string) { p.PhoneNumber = x }},
		{"address", in.Address, func(p *domain.Profile, x *string) { p.Address = x }},
	}
	for _, f := range fields {
		if f.opt.Set {
			v.Merge("profile.", domain.ValidateProfileField(f.json, f.opt.Value))
		}
	}
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}
	now := s.Clock.Now()
	u, err := s.Users.Update(ctx, p.User.ID, func(u *domain.User) error {
		if in.Name.Set {
			u.Name = name
		}
		for _, f := range fields {
			if f.opt.Set {
				f.set(&u.Profile, f.opt.Value)
			}
		}
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("update profile: %w", err)
	}
	return u, nil
}

// ChangePassword replaces the caller's password after checking the current
// one, and revokes every other session of the caller; the session making
// the change survives. A wrong current password gives
// domain.ErrWrongPassword; repeated failures are limited like logins, since
// a stolen access token must not become a way to guess the password.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string) error {
	pw, err := domain.ParsePassword("new_password", next)
	if err != nil {
		return err
	}
	if current == next {
		v := &domain.ValidationError{}
		v.Add("new_password", "must differ from the current password")
		return v
	}
	att, err := s.beginAttempt(ctx, "password:"+string(p.User.ID))
	if err != nil {
		return err
	}
	defer att.settle(ctx)
	// p.User was read from the store by Authenticate for this request; a
	// change landing since is caught by the check inside Update below.
	u := p.User
	switch err := s.Hasher.Compare(ctx, u.PasswordHash, domain.Password(current)); {
	case errors.Is(err, domain.ErrInvalidCredentials):
		s.loginFailed(ctx, att, u.ID, "")
		return domain.ErrWrongPassword
	case err != nil:
		return fmt.Errorf("change password: %w", err)
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	// The other sessions are revoked before the password changes: if that
	// or the change fails, the old password is still the one in force and
	// the same request can be sent again. The other way round, a failed
	// revocation after the change left a thief's session alive, and the
	// retry failed on the current password it named, now wrong. Revoking
	// again after the change catches a session opened with the old
	// password meanwhile; if only that fails, the new password is in force
	// and the answer is an error all the same, since a session may be left
	// that the caller believes gone (GET /users/me/sessions lists it).
	now := s.Clock.Now()
	revoked, err := s.Sessions.RevokeAllOf(ctx, u.ID, p.Session.ID, now)
	if err != nil {
		return fmt.Errorf("change password: revoke other sessions: %w", err)
	}
	if _, err := s.Users.Update(ctx, u.ID, func(cur *domain.User) error {
		// A concurrent change that landed after our check wins; this one
		// must be retried against the password now in force.
		if cur.PasswordHash != u.PasswordHash {
			return domain.ErrWrongPassword
		}
		cur.PasswordHash, cur.UpdatedAt = hash, now
		return nil
	}); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.forgetCredentials(u.ID)
	late, err := s.Sessions.RevokeAllOf(ctx, u.ID, p.Session.ID, s.Clock.Now())
	if err != nil {
		s.Logger.ErrorContext(ctx, "password changed and older sessions revoked, but not those opened during the change",
			"user_id", u.ID, "sessions_revoked", len(revoked), "err", err)
		return fmt.Errorf("change password: revoke sessions opened during the change: %w", err)
	}
	s.Logger.InfoContext(ctx, "password changed", "user_id", u.ID, "sessions_revoked", len(revoked)+len(late))
	return nil
}

// ListSessions returns the caller's live sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, p Principal) ([]domain.Session, error) {
	list, err := s.Deps.Sessions.ListLive(ctx, p.User.ID, s.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// RevokeSession ends one of the caller's sessions. A session that is not
// the caller's gives domain.ErrNotFound, exactly as one that does not exist,
// so ids of other users' sessions cannot be probed.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id domain.SessionID) error {
	sess, err := s.Deps.Sessions.ByID(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.ErrNotFound
	case err != nil:
		return fmt.Errorf("revoke session: %w", err)
	case sess.UserID != p.User.ID || !sess.Live(s.Clock.Now()):
		return domain.ErrNotFound
	}
	if _, err := s.Deps.Sessions.Revoke(ctx, id, s.Clock.Now()); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.Logger.InfoContext(ctx, "session revoked", "user_id", p.User.ID, "session_id", id)
	return nil
}

// revokeAll ends every live session of the user.
func (s *Service) revokeAll(ctx context.Context, id domain.UserID) ([]domain.SessionID, error) {
	return s.Deps.Sessions.RevokeAllOf(ctx, id, "", s.Clock.Now())
}
