package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/adapters/sqlstore/sqlstoretest"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestUserStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		contract.UserStore(t, func(t *testing.T) ports.UserStore {
			return sqlstore.NewUserStore(sqlstoretest.NewDB(t, dialect))
		})
	})
}

// forEachDialect runs f once per dialect, in parallel; the PostgreSQL run
// skips (or fails, under AUTH_TEST_REQUIRE_SERVICES=1) once, up front, when
// there is no server.
func forEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			if d == sqlstore.DialectPostgres {
				sqlstoretest.PostgresURL(t)
			}
			f(t, d)
		})
	}
}

func testUser(id, email string) domain.User {
	now := time.Now()
	return domain.User{
		ID: domain.UserID(id), Name: "Ada", Email: domain.Email(email), PasswordHash: "$2a$10$x",
		IsActive: true, Role: domain.RoleUser, CreatedAt: now, UpdatedAt: now,
	}
}

// The contract passes lower-cased emails only; the index on lower(email)
// must also refuse an address that differs in case, should one ever get
// past domain.ParseEmail, and ByEmail must find it either way.
func TestEmailUniqueIgnoringCaseInTheDatabase(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := sqlstore.NewUserStore(sqlstoretest.NewDB(t, dialect))
		if err := s.Create(t.Context(), testUser("u1", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		err := s.Create(t.Context(), testUser("u2", "Ada@Example.COM"))
		if !errors.Is(err, domain.ErrEmailTaken) {
			t.Fatalf("Create with the email in other case = %v, want domain.ErrEmailTaken", err)
		}
		u, err := s.ByEmail(t.Context(), "ADA@example.com")
		if err != nil || u.ID != "u1" {
			t.Fatalf("ByEmail in other case = %q, %v; want u1", u.ID, err)
		}
	})
}

func TestTimesComeBackUTCInMicroseconds(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := sqlstore.NewUserStore(sqlstoretest.NewDB(t, dialect))
		u := testUser("u1", "ada@example.com")
		u.CreatedAt = time.Date(2026, 12, 3, 17, 0, 0, 123456999, time.FixedZone("UTC+1", 3600))
		if err := s.Create(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		got, err := s.ByID(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Truncated, not rounded: 123456999ns keeps 123456µs.
		want := time.Date(2026, 12, 3, 16, 0, 0, 123456000, time.UTC)
		if got.CreatedAt != want { // == also compares the location
			t.Fatalf("CreatedAt = %v, want %v", got.CreatedAt, want)
		}
	})
}

// The port allows a store to delete a user's sessions with the user; the SQL
// store does, through ON DELETE CASCADE (which SQLite honours only with
// foreign keys turned on).
func TestDeleteUserCascadesToSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := sqlstoretest.NewDB(t, dialect)
		users, sessions := sqlstore.NewUserStore(db), sqlstore.NewSessionStore(db)
		if err := users.Create(t.Context(), testUser("u1", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tok := domain.RefreshToken{Hash: domain.NewRefreshSecret().Hash(), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		sess := domain.Session{ID: "s1", UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := sessions.Create(t.Context(), sess, tok); err != nil {
			t.Fatal(err)
		}
		if err := users.Delete(t.Context(), "u1"); err != nil {
			t.Fatal(err)
		}
		if _, err := sessions.ByID(t.Context(), "s1"); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("session after its user was deleted: %v, want domain.ErrNotFound", err)
		}
		var n int
		if err := db.SQL().QueryRowContext(t.Context(), "SELECT count(*) FROM refresh_tokens").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d refresh tokens left after their user was deleted", n)
		}
	})
}

func TestSessionOfUnknownUserRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := sqlstoretest.NewDB(t, dialect)
		sessions := sqlstore.NewSessionStore(db)
		now := time.Now()
		tok := domain.RefreshToken{Hash: domain.NewRefreshSecret().Hash(), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		sess := domain.Session{ID: "s1", UserID: "nobody", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := sessions.Create(t.Context(), sess, tok); err == nil {
			t.Fatal("Create of a session of an unknown user succeeded")
		}
		if _, err := sessions.ByID(t.Context(), "s1"); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("ByID after the refused Create: %v, want domain.ErrNotFound", err)
		}
	})
}
