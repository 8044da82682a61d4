package contract

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// UserStore tests every sentence of the ports.UserStore contract on stores
// built by newStore, one fresh store per subtest.
func UserStore(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	run := func(name string, f func(t *testing.T, s ports.UserStore)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newStore(t))
		})
	}

	run("CreateThenReadEveryField", func(t *testing.T, s ports.UserStore) {
		u := newUser(t, "ada")
		// Values that differ from the zero value and from newUser's defaults,
		// so a column that is not written or not read shows.
		u.IsActive = false
		u.Role = domain.RoleAdmin
		u.Profile = domain.Profile{
			FirstName:   ptr("Ada"),
			LastName:    ptr("Lovelace"),
			PhoneNumber: ptr("+44 20 7946 0000"),
			Address:     ptr("12 St James's Square, London"),
		}
		mustCreate(t, s, u)
		want := u
		want.Version = 1
		assertUser(t, "ByID", mustByID(t, s, u.ID), want)
		got, err := s.ByEmail(t.Context(), u.Email)
		if err != nil {
			t.Fatalf("ByEmail: %v", err)
		}
		assertUser(t, "ByEmail", got, want)
	})

	run("UnsetProfileStaysNilAndEmptyStaysEmpty", func(t *testing.T, s ports.UserStore) {
		// nil means "not set"; an empty string is a value and must not turn
		// into nil (or back).
		u := newUser(t, "ada")
		u.Profile = domain.Profile{FirstName: ptr(""), Address: ptr("")}
		mustCreate(t, s, u)
		want := u
		want.Version = 1
		assertUser(t, "ByID", mustByID(t, s, u.ID), want)
	})

	run("StoresCopies", func(t *testing.T, s ports.UserStore) {
		u := newUser(t, "ada")
		u.Profile.FirstName = ptr("Ada")
		mustCreate(t, s, u)
		*u.Profile.FirstName = "changed after Create"
		got := mustByID(t, s, u.ID)
		if got.Profile.FirstName == nil || *got.Profile.FirstName != "Ada" {
			t.Fatalf("FirstName after the caller changed its copy = %v, want Ada", fmtPtr(got.Profile.FirstName))
		}
		*got.Profile.FirstName = "changed after ByID"
		if again := mustByID(t, s, u.ID); *again.Profile.FirstName != "Ada" {
			t.Fatalf("FirstName after the caller changed a read copy = %q, want Ada", *again.Profile.FirstName)
		}
	})

	run("ByIDUnknown", func(t *testing.T, s ports.UserStore) {
		mustCreate(t, s, newUser(t, "other"))
		_, err := s.ByID(t.Context(), domain.UserID(newID()))
		assertIs(t, "ByID of an unknown id", err, domain.ErrNotFound)
	})

	// Ids come from URLs, so they may hold anything: an id no row can have
	// is not found, whatever the database makes of its bytes.
	run("IDsNoRowCanHaveAreNotFound", func(t *testing.T, s ports.UserStore) {
		mustCreate(t, s, newUser(t, "other"))
		for _, id := range unstorableIDs {
			_, err := s.ByID(t.Context(), domain.UserID(id))
			assertIs(t, fmt.Sprintf("ByID(%q)", id), err, domain.ErrNotFound)
			_, err = s.Update(t.Context(), domain.UserID(id), func(*domain.User) error { return nil })
			assertIs(t, fmt.Sprintf("Update(%q)", id), err, domain.ErrNotFound)
			assertIs(t, fmt.Sprintf("Delete(%q)", id), s.Delete(t.Context(), domain.UserID(id)), domain.ErrNotFound)
		}
	})

	run("ByEmailUnknown", func(t *testing.T, s ports.UserStore) {
		mustCreate(t, s, newUser(t, "other"))
		_, err := s.ByEmail(t.Context(), newEmail(t, "nobody"))
		assertIs(t, "ByEmail of an unknown email", err, domain.ErrNotFound)
	})

	run("CreateTakenEmail", func(t *testing.T, s ports.UserStore) {
		first := newUser(t, "ada")
		mustCreate(t, s, first)
		second := newUser(t, "grace")
		second.Email = first.Email
		err := s.Create(t.Context(), second)
		assertIs(t, "Create with a taken email", err, domain.ErrEmailTaken)

		got, err := s.ByEmail(t.Context(), first.Email)
		if err != nil {
			t.Fatalf("ByEmail: %v", err)
		}
		want := first
		want.Version = 1
		assertUser(t, "the first user, after the refused Create", got, want)
		_, err = s.ByID(t.Context(), second.ID)
		assertIs(t, "ByID of the refused user", err, domain.ErrNotFound)
	})

	run("ConcurrentCreateSameEmailOneWins", func(t *testing.T, s ports.UserStore) {
		email := newEmail(t, "contested")
		users := make([]domain.User, races)
		errs := make([]error, races)
		for i := range users {
			users[i] = newUser(t, fmt.Sprintf("racer %d", i))
			users[i].Email = email
		}
		raceN(races, func(i int) { errs[i] = s.Create(t.Context(), users[i]) })

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("Create %d and %d both succeeded with the same email", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, domain.ErrEmailTaken):
				t.Errorf("Create %d: %v, want nil or domain.ErrEmailTaken", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no Create succeeded")
		}
		got, err := s.ByEmail(t.Context(), email)
		if err != nil {
			t.Fatalf("ByEmail: %v", err)
		}
		if got.ID != users[winner].ID {
			t.Fatalf("ByEmail returned %q, want the winner %q", got.ID, users[winner].ID)
		}
	})

	run("UpdateVisibleToNextRead", func(t *testing.T, s ports.UserStore) {
		u := newUser(t, "ada")
		u.Profile.Address = ptr("old address")
		mustCreate(t, s, u)
		renamed := newEmail(t, "ada renamed")
		later := t0.Add(time.Hour)

		want := u
		want.Name = "Ada King"
		want.Email = renamed
		want.PasswordHash = "$2a$12$changed"
		want.IsActive = false
		want.Role = domain.RoleAdmin
		want.Profile = domain.Profile{FirstName: ptr("Ada"), PhoneNumber: ptr("123")} // Address cleared
		want.UpdatedAt = later
		want.Version = 2

		got, err := s.Update(t.Context(), u.ID, func(u *domain.User) error {
			if u.Version != 1 {
				t.Errorf("fn saw Version %d, want 1", u.Version)
			}
			u.Name, u.Email, u.PasswordHash = want.Name, want.Email, want.PasswordHash
			u.IsActive, u.Role, u.UpdatedAt = want.IsActive, want.Role, want.UpdatedAt
			u.Profile = domain.Profile{FirstName: ptr("Ada"), PhoneNumber: ptr("123")}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		assertUser(t, "returned by Update", got, want)
		assertUser(t, "ByID after Update", mustByID(t, s, u.ID), want)
		byEmail, err := s.ByEmail(t.Context(), renamed)
		if err != nil {
			t.Fatalf("ByEmail of the new email: %v", err)
		}
		assertUser(t, "ByEmail after Update", byEmail, want)

		_, err = s.ByEmail(t.Context(), u.Email)
		assertIs(t, "ByEmail of the email given up", err, domain.ErrNotFound)
		other := newUser(t, "grace")
		other.Email = u.Email
		if err := s.Create(t.Context(), other); err != nil {
			t.Fatalf("Create with the email given up by an Update: %v", err)
		}

		got, err = s.Update(t.Context(), u.ID, func(u *domain.User) error { u.Name = "Ada, Countess"; return nil })
		if err != nil {
			t.Fatalf("second Update: %v", err)
		}
		if got.Version != 3 {
			t.Fatalf("Version after two Updates = %d, want 3", got.Version)
		}
	})

	run("UpdateUnchangedStillCountsAVersion", func(t *testing.T, s ports.UserStore) {
		u := newUser(t, "ada")
		mustCreate(t, s, u)
		got, err := s.Update(t.Context(), u.ID, func(*domain.User) error { return nil })
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		want := u
		want.Version = 2
		assertUser(t, "returned by Update", got, want)
		assertUser(t, "ByID", mustByID(t, s, u.ID), want)
	})

	run("UpdateFnErrorChangesNothing", func(t *testing.T, s ports.UserStore) {
		u := newUser(t, "ada")
		mustCreate(t, s, u)
		refused := errors.New("refused by fn")
		_, err := s.Update(t.Context(), u.ID, func(u *domain.User) error {
			u.Name = "Changed"
			u.Email = newEmail(t, "changed")
			u.Profile.LastName = ptr("Changed")
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
		want := u
		want.Version = 1
		assertUser(t, "ByID after the failed Update", mustByID(t, s, u.ID), want)
		_, err = s.ByEmail(t.Context(), newEmail(t, "changed"))
		assertIs(t, "ByEmail of the email fn tried to set", err, domain.ErrNotFound)
	})

	run("UpdateUnknown", func(t *testing.T, s ports.UserStore) {
		called := false
		_, err := s.Update(t.Context(), domain.UserID(newID()), func(*domain.User) error { called = true; return nil })
		assertIs(t, "Update of an unknown id", err, domain.ErrNotFound)
		if called {
			t.Fatal("fn was called for an unknown id")
		}
	})

	run("UpdateToTakenEmail", func(t *testing.T, s ports.UserStore) {
		ada, grace := newUser(t, "ada"), newUser(t, "grace")
		mustCreate(t, s, ada)
		mustCreate(t, s, grace)
		_, err := s.Update(t.Context(), grace.ID, func(u *domain.User) error {
			u.Email = ada.Email
			u.Name = "Changed"
			return nil
		})
		assertIs(t, "Update to a taken email", err, domain.ErrEmailTaken)

		wantAda, wantGrace := ada, grace
		wantAda.Version, wantGrace.Version = 1, 1
		assertUser(t, "the email's owner", mustByID(t, s, ada.ID), wantAda)
		assertUser(t, "the refused user", mustByID(t, s, grace.ID), wantGrace)
		got, err := s.ByEmail(t.Context(), ada.Email)
		if err != nil || got.ID != ada.ID {
			t.Fatalf("ByEmail of the contested email = %q, %v; want %q", got.ID, err, ada.ID)
		}
	})

	run("ConcurrentUpdatesLoseNothing", func(t *testing.T, s ports.UserStore) {
		u := newUser(t, "ada")
		u.Profile.Address = ptr("")
		mustCreate(t, s, u)
		errs := make([]error, races)
		raceN(races, func(i int) {
			_, errs[i] = s.Update(t.Context(), u.ID, func(u *domain.User) error {
				// A read-modify-write: a store that lets two run on the
				// same version loses one of the marks.
				*u.Profile.Address += fmt.Sprintf("[%d]", i)
				return nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		}
		got := mustByID(t, s, u.ID)
		if got.Version != races+1 {
			t.Errorf("Version = %d, want %d", got.Version, races+1)
		}
		if got.Profile.Address == nil {
			t.Fatal("Address is nil")
		}
		var missing []int
		for i := range races {
			if !strings.Contains(*got.Profile.Address, fmt.Sprintf("[%d]", i)) {
				missing = append(missing, i)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("lost the updates of goroutines %v: Address = %q", missing, *got.Profile.Address)
		}
	})

	run("DeleteFreesTheEmail", func(t *testing.T, s ports.UserStore) {
		u, keep := newUser(t, "ada"), newUser(t, "grace")
		mustCreate(t, s, u)
		mustCreate(t, s, keep)
		if err := s.Delete(t.Context(), u.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		_, err := s.ByID(t.Context(), u.ID)
		assertIs(t, "ByID after Delete", err, domain.ErrNotFound)
		_, err = s.ByEmail(t.Context(), u.Email)
		assertIs(t, "ByEmail after Delete", err, domain.ErrNotFound)
		_, err = s.Update(t.Context(), u.ID, func(*domain.User) error { return nil })
		assertIs(t, "Update after Delete", err, domain.ErrNotFound)
		err = s.Delete(t.Context(), u.ID)
		assertIs(t, "second Delete", err, domain.ErrNotFound)

		again := newUser(t, "ada again")
		again.Email = u.Email
		if err := s.Create(t.Context(), again); err != nil {
			t.Fatalf("Create with the deleted user's email: %v", err)
		}
		wantKeep := keep
		wantKeep.Version = 1
		assertUser(t, "the other user", mustByID(t, s, keep.ID), wantKeep)
	})

	run("DeleteUnknown", func(t *testing.T, s ports.UserStore) {
		err := s.Delete(t.Context(), domain.UserID(newID()))
		assertIs(t, "Delete of an unknown id", err, domain.ErrNotFound)
	})
}

func mustCreate(t *testing.T, s ports.UserStore, u domain.User) {
	t.Helper()
	if err := s.Create(t.Context(), u); err != nil {
		t.Fatalf("Create %s: %v", u.ID, err)
	}
}

func mustByID(t *testing.T, s ports.UserStore, id domain.UserID) domain.User {
	t.Helper()
	u, err := s.ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ByID %s: %v", id, err)
	}
	return u
}

func assertUser(t *testing.T, what string, got, want domain.User) {
	t.Helper()
	if d := diffUser(got, want); len(d) > 0 {
		t.Fatalf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

func assertIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want an error matching %q", what, err, want)
	}
}

// raceN runs f(0) … f(n-1) in goroutines released together, and waits for
// all of them.
func raceN(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// sortedIDs returns ids sorted, for order-insensitive comparisons.
func sortedIDs[T ~string](ids []T) []T {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
