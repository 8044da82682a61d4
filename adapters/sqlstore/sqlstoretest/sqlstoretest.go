// Package sqlstoretest gives tests a private, migrated database: an
// in-memory SQLite one, or a fresh schema on the PostgreSQL server named by
// AUTH_TEST_POSTGRES_URL. It lives apart from sqlstore so that the testing
// package stays out of the authd binary.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for schema setup

	"github.com/authd/authd/adapters/sqlstore"
)

// Dialects lists the dialects NewDB accepts, for table-driven tests.
var Dialects = []string{sqlstore.DialectSQLite, sqlstore.DialectPostgres}

// NewDB returns a migrated, empty database of dialect (sqlstore.DialectSQLite
// or sqlstore.DialectPostgres) that belongs to tb alone and is removed in
// tb.Cleanup.
//
// PostgreSQL needs AUTH_TEST_POSTGRES_URL; without it the test is skipped,
// unless AUTH_TEST_REQUIRE_SERVICES=1, when it fails.
func NewDB(tb testing.TB, dialect string) *sqlstore.DB {
	tb.Helper()
	db := NewEmptyDB(tb, dialect)
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("sqlstoretest: %v", err)
	}
	return db
}

// NewEmptyDB is NewDB without the migrations.
func NewEmptyDB(tb testing.TB, dialect string) *sqlstore.DB {
	tb.Helper()
	switch dialect {
	case sqlstore.DialectSQLite:
		return Open(tb, "sqlite::memory:")
	case sqlstore.DialectPostgres:
		return newPostgresSchema(tb)
	}
	tb.Fatalf("sqlstoretest: unknown dialect %q", dialect)
	return nil
}

// PostgresURL returns AUTH_TEST_POSTGRES_URL, skipping (or, under
// AUTH_TEST_REQUIRE_SERVICES=1, failing) tb when it is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("AUTH_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("AUTH_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatal("AUTH_TEST_POSTGRES_URL is unset and AUTH_TEST_REQUIRE_SERVICES=1")
		}
		tb.Skip("AUTH_TEST_POSTGRES_URL is unset")
	}
	return u
}

// PostgresSchemaURL creates a schema with a random name and returns
// AUTH_TEST_POSTGRES_URL with that schema as the only search_path, so that
// migrations and queries through it land there. tb's cleanup drops the
// schema with everything in it. Parallel tests each get their own.
func PostgresSchemaURL(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "authd_test_" + hex.EncodeToString(b[:])

	u, err := url.Parse(base)
	if err != nil {
		// The URL may hold a password; name the variable, not the value.
		tb.Fatal("sqlstoretest: AUTH_TEST_POSTGRES_URL is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	admin(tb, base, "CREATE SCHEMA "+schema)
	tb.Cleanup(func() { admin(tb, base, "DROP SCHEMA "+schema+" CASCADE") })
	return u.String()
}

// newPostgresSchema opens a DB on a fresh schema. Its pool is closed before
// the schema is dropped (cleanups run last-registered first).
func newPostgresSchema(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	return Open(tb, PostgresSchemaURL(tb))
}

// admin runs one statement on a connection of its own.
func admin(tb testing.TB, dsn, stmt string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("sqlstoretest: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		tb.Fatalf("sqlstoretest: %s: %v", stmt, err)
	}
}

// Open opens dbURL with a small pool and closes it in tb's cleanup.
func Open(tb testing.TB, dbURL string) *sqlstore.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, sqlstore.Options{URL: dbURL, MaxOpenConns: 4})
	if err != nil {
		tb.Fatalf("sqlstoretest: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("sqlstoretest: %v", err)
		}
	})
	return db
}
