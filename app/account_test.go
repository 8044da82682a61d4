package app_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

func (f *fixture) principal(t *testing.T, email string) (app.Principal, app.Tokens) {
	t.Helper()
	tok, err := f.login(t, email, "strongpass123")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(context.Background(), string(tok.Access))
	if err != nil {
		t.Fatal(err)
	}
	return p, tok
}

func ptr(s string) *string { return &s }

func TestUpdateProfileIsPartialAndAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	p, _ := f.principal(t, "ada@example.com")

	u, err := f.svc.UpdateProfile(ctx, p, app.ProfileUpdate{PhoneNumber: app.Some(ptr("+44 20 7946 0000")), FirstName: app.Some(ptr("Ada"))})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Ada Lovelace" || *u.Profile.PhoneNumber != "+44 20 7946 0000" || *u.Profile.FirstName != "Ada" || u.Profile.Address != nil {
		t.Fatalf("after partial update: %+v", u)
	}
	// Clearing one field leaves the others.
	u, err = f.svc.UpdateProfile(ctx, p, app.ProfileUpdate{FirstName: app.Some[*string](nil)})
	if err != nil || u.Profile.FirstName != nil || u.Profile.PhoneNumber == nil {
		t.Fatalf("clear first_name: %+v, %v", u.Profile, err)
	}
	// One bad field rejects the whole update and names every problem.
	_, err = f.svc.UpdateProfile(ctx, p, app.ProfileUpdate{
		Name: app.Some("Grace Hopper"), PhoneNumber: app.Some(ptr("012345678901234567890")), Address: app.Some(ptr("a\x00b")),
	})
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Field != "profile.phone_number" || ve.Problems[1].Field != "profile.address" {
		t.Fatalf("err = %v, want problems on profile.phone_number and profile.address", err)
	}
	if got, _ := f.users.ByID(ctx, p.User.ID); got.Name != "Ada Lovelace" {
		t.Errorf("a rejected update changed the name to %q", got.Name)
	}
}

func TestChangePasswordKeepsOnlyTheCallersSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	p, mine := f.principal(t, "ada@example.com")
	_, other := f.principal(t, "ada@example.com")

	if err := f.svc.ChangePassword(ctx, p, "wrongpass123", "newpass4567"); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("wrong current password: %v", err)
	}
	var ve *domain.ValidationError
	if err := f.svc.ChangePassword(ctx, p, "strongpass123", "short"); !errors.As(err, &ve) || ve.Problems[0].Field != "new_password" {
		t.Fatalf("short new password: %v", err)
	}
	if err := f.svc.ChangePassword(ctx, p, "strongpass123", "newpass4567"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, string(mine.Access)); err != nil {
		t.Errorf("caller's session after change: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, string(other.Access)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("other session after change: %v", err)
	}
	if _, err := f.login(t, "ada@example.com", "strongpass123"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("old password after change: %v", err)
	}
	if _, err := f.login(t, "ada@example.com", "newpass4567"); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestSessionsAreTheCallersOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	f.register(t, "ada@example.com")
	f.register(t, "grace@example.com")
	ada, _ := f.principal(t, "ada@example.com")
	_, second := f.principal(t, "ada@example.com")
	grace, _ := f.principal(t, "grace@example.com")

	list, err := f.svc.ListSessions(ctx, ada)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions: %d, %v", len(list), err)
	}
	if err := f.svc.RevokeSession(ctx, grace, ada.Session.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("revoking another user's session: %v, want ErrNotFound", err)
	}
	if err := f.svc.RevokeSession(ctx, ada, "no-such-session"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("revoking an unknown session: %v", err)
	}
	if err := f.svc.RevokeSession(ctx, ada, second.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, string(second.Access)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("revoked session still authenticates: %v", err)
	}
	if list, _ = f.svc.ListSessions(ctx, ada); len(list) != 1 || list[0].ID != ada.Session.ID {
		t.Errorf("sessions after revoking one: %+v", list)
	}
}

func TestAdminUseCasesRequireTheAdminRole(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	u := f.register(t, "ada@example.com")
	p, _ := f.principal(t, "ada@example.com")
	checks := map[string]error{
		"get":    func() error { _, err := f.svc.User(ctx, p, u.ID); return err }(),
		"update": func() error { _, err := f.svc.UpdateUser(ctx, p, u.ID, app.AdminUpdate{}); return err }(),
		"delete": f.svc.DeleteUser(ctx, p, u.ID),
	}
	for name, err := range checks {
		if !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("%s as a user: %v, want ErrForbidden", name, err)
		}
	}
}

func TestAdminDeactivateAndDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, policy)
	admin, created, err := f.svc.CreateAdmin(ctx, "Root Admin", "root@example.com", "rootpass1234")
	if err != nil || !created || admin.Role != domain.RoleAdmin {
		t.Fatalf("create admin: %+v %v %v", admin, created, err)
	}
	tok, _ := f.login(t, "root@example.com", "rootpass1234")
	ap, err := f.svc.Authenticate(ctx, string(tok.Access))
	if err != nil {
		t.Fatal(err)
	}
	user := f.register(t, "ada@example.com")
	_, ut := f.principal(t, "ada@example.com")

	var ve *domain.ValidationError
	if _, err := f.svc.UpdateUser(ctx, ap, ap.User.ID, app.AdminUpdate{IsActive: app.Some(false)}); !errors.As(err, &ve) {
		t.Errorf("admin deactivating self: %v", err)
	}
	if _, err := f.svc.UpdateUser(ctx, ap, user.ID, app.AdminUpdate{Role: app.Some("root")}); !errors.As(err, &ve) {
		t.Errorf("unknown role: %v", err)
	}
	got, err := f.svc.UpdateUser(ctx, ap, user.ID, app.AdminUpdate{IsActive: app.Some(false)})
	if err != nil || got.IsActive {
		t.Fatalf("deactivate: %+v %v", got, err)
	}
	if _, err := f.svc.Refresh(ctx, string(ut.Refresh)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("refresh of a deactivated user's session: %v", err)
	}
	if err := f.svc.DeleteUser(ctx, ap, user.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, string(ut.Access)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("token of a deleted user: %v", err)
	}
	if err := f.svc.DeleteUser(ctx, ap, user.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	// create-admin on an existing email promotes it and sets the password.
	f.register(t, "grace@example.com")
	promoted, created, err := f.svc.CreateAdmin(ctx, "Grace Hopper", "GRACE@example.com", "gracepass123")
	if err != nil || created || promoted.Role != domain.RoleAdmin {
		t.Fatalf("promote: %+v %v %v", promoted, created, err)
	}
	if _, err := f.login(t, "grace@example.com", "gracepass123"); err != nil {
		t.Errorf("promoted admin's new password: %v", err)
	}
}

// flakySessions and flakyUsers fail one call when told to, so a test can
// break a password change at each step.
type flakySessions struct {
	ports.SessionStore
	failRevokeAll atomic.Bool
}

func (s *flakySessions) RevokeAllOf(ctx context.Context, user domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error) {
	if s.failRevokeAll.Swap(false) {
		return nil, errors.New("database unreachable")
	}
	return s.SessionStore.RevokeAllOf(ctx, user, keep, now)
}

type flakyUsers struct {
	ports.UserStore
	failUpdate atomic.Bool
}

func (s *flakyUsers) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	if s.failUpdate.Swap(false) {
		return domain.User{}, errors.New("database unreachable")
	}
	return s.UserStore.Update(ctx, id, fn)
}

// A password change that fails at any step leaves the old password in
// force, so the same request can simply be sent again; whatever it got
// to revoke stays revoked.
func TestChangePasswordThatFailsCanBeRetried(t *testing.T) {
	ctx := context.Background()
	for _, step := range []string{"revoking", "storing the password"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t, policy)
			sessions := &flakySessions{SessionStore: f.sessions}
			users := &flakyUsers{UserStore: f.users}
			svc, err := app.New(ctx, app.Deps{
				Users: users, Sessions: sessions, Hasher: f.hasher,
				Tokens:  &fakeTokens{issued: map[string]domain.AccessClaims{}, clock: f.clock},
				Limiter: memory.NewRateLimiter(f.clock), Clock: f.clock,
			}, policy)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(svc.Close)
			f.svc = svc
			f.register(t, "ada@example.com")
			p, _ := f.principal(t, "ada@example.com")
			_, thief := f.principal(t, "ada@example.com")

			if step == "revoking" {
				sessions.failRevokeAll.Store(true)
			} else {
				users.failUpdate.Store(true)
			}
			if err := svc.ChangePassword(ctx, p, "strongpass123", "newpass4567"); err == nil {
				t.Fatal("the change succeeded with a step failing")
			}
			if _, err := f.login(t, "ada@example.com", "strongpass123"); err != nil {
				t.Fatalf("old password after the failed change: %v, want it still in force", err)
			}
			if _, err := svc.Authenticate(ctx, string(thief.Access)); step == "storing the password" && !errors.Is(err, domain.ErrUnauthenticated) {
				t.Fatalf("other session after a change that got past revoking: %v, want revoked", err)
			}
			if err := svc.ChangePassword(ctx, p, "strongpass123", "newpass4567"); err != nil {
				t.Fatalf("the same change sent again: %v", err)
			}
			if _, err := svc.Authenticate(ctx, string(thief.Access)); !errors.Is(err, domain.ErrUnauthenticated) {
				t.Fatalf("other session after the retried change: %v, want revoked", err)
			}
			if _, err := f.login(t, "ada@example.com", "newpass4567"); err != nil {
				t.Fatalf("new password: %v", err)
			}
		})
	}
}
