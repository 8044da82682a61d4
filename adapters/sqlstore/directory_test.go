package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/adapters/sqlstore/sqlstoretest"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestUserDirectory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		contract.UserDirectory(t, func(t *testing.T) (ports.UserDirectory, ports.UserStore) {
			s := sqlstore.NewUserStore(sqlstoretest.NewDB(t, dialect))
			return s, s
		})
	})
}

// The plans List's statements get on PostgreSQL: a page walks the primary
// key from the cursor without sorting, and a search uses both trigram
// indexes. QUERYPLAN.md records plans and timings on a million users (run
// this with -v to print the plans here). Sequential scans are turned off
// because on a few thousand rows the planner may rightly prefer one; what
// is shown is that the indexes exist and can answer these exact statements.
func TestUserListPlansPostgres(t *testing.T) {
	t.Parallel()
	db := sqlstoretest.NewDB(t, sqlstore.DialectPostgres)
	ctx := t.Context()
	_, err := db.SQL().ExecContext(ctx, `
		INSERT INTO users (id, name, email, password_hash, is_active, role, created_at, updated_at, version)
		SELECT 'u' || lpad(i::text, 8, '0'), 'User ' || i, 'user' || i || '@example.com', '$2a$10$x',
		       true, 'user', now(), now(), 1
		  FROM generate_series(1, 5000) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, "ANALYZE users"); err != nil {
		t.Fatal(err)
	}
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	users := sqlstore.NewUserStore(db)
	explain := func(q ports.UserQuery) string {
		t.Helper()
		stmt, args := users.ListSQL(q)
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt, args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", stmt, err)
		}
		defer rows.Close()
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v\n%s\n%s", q, stmt, plan.String())
		return plan.String()
	}

	page := explain(ports.UserQuery{After: "u00002500", Limit: 51})
	if !strings.Contains(page, "Index Scan using users_pkey") || strings.Contains(page, "Sort") {
		t.Errorf("a page does not walk the primary key:\n%s", page)
	}
	// On a few thousand rows, walking the whole primary key is cheap enough
	// that the planner prefers it to the trigram indexes for a search; on a
	// million it picks them by itself (QUERYPLAN.md). Plain index scans go
	// off so that the plan shows they can answer the search.
	if _, err := conn.ExecContext(ctx, "SET enable_indexscan = off"); err != nil {
		t.Fatal(err)
	}
	search := explain(ports.UserQuery{Search: "4242", Limit: 51})
	for _, index := range []string{"users_email_trgm_idx", "users_name_trgm_idx"} {
		if !strings.Contains(search, index) {
			t.Errorf("a search does not use %s:\n%s", index, search)
		}
	}
}

// Migration 00002 installs pg_trgm, which is database-wide, while each
// deployment (and each test) migrates a schema of its own. These run in
// databases made for the purpose, since they depend on whether the
// extension is already installed, and where.
func TestSearchIndexMigrationPostgres(t *testing.T) {
	t.Parallel()
	base := sqlstoretest.PostgresURL(t)

	t.Run("ConcurrentSchemasInstallTheExtensionOnce", func(t *testing.T) {
		t.Parallel()
		dbURL := newDatabase(t, base)
		const schemas = 4
		errs := make([]error, schemas)
		dbs := make([]*sqlstore.DB, schemas)
		for i := range dbs {
			dbs[i] = sqlstoretest.Open(t, schemaURL(t, dbURL, fmt.Sprintf("tenant_%d", i)))
		}
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() { errs[i] = db.Migrate(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate of schema %d: %v", i, err)
			}
		}
		if got := extensionSchema(t, dbs[0]); got != "public" {
			t.Errorf("pg_trgm installed in %q, want public", got)
		}
		for _, db := range dbs {
			assertSearchWorks(t, db)
		}
		// Dropping a tenant's schema leaves the others' indexes alone.
		if _, err := dbs[1].SQL().ExecContext(t.Context(), "DROP SCHEMA tenant_1 CASCADE"); err != nil {
			t.Fatal(err)
		}
		if got := extensionSchema(t, dbs[0]); got != "public" {
			t.Errorf("after dropping a schema, pg_trgm is in %q, want public", got)
		}
		assertSearchWorks(t, dbs[0])
	})

	t.Run("ExtensionAlreadyInASchemaOffThePath", func(t *testing.T) {
		t.Parallel()
		dbURL := newDatabase(t, base)
		exec(t, dbURL, "CREATE SCHEMA extensions", "CREATE EXTENSION pg_trgm WITH SCHEMA extensions")
		db := sqlstoretest.Open(t, schemaURL(t, dbURL, "tenant"))
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if got := extensionSchema(t, db); got != "extensions" {
			t.Errorf("pg_trgm moved to %q", got)
		}
		var def string
		err := db.SQL().QueryRowContext(t.Context(),
			"SELECT indexdef FROM pg_indexes WHERE schemaname = 'tenant' AND indexname = 'users_name_trgm_idx'").Scan(&def)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(def, "extensions.gin_trgm_ops") {
			t.Errorf("index definition %q", def)
		}
		assertSearchWorks(t, db)
		if err := db.MigrateDownAll(t.Context()); err != nil {
			t.Fatalf("down: %v", err)
		}
		if got := extensionSchema(t, db); got != "extensions" {
			t.Errorf("after the down migrations pg_trgm is in %q, want it left in extensions", got)
		}
	})
}

// newDatabase creates a database on the server of base and returns its
// URL; t's cleanup drops it.
func newDatabase(t *testing.T, base string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "authd_test_" + hex.EncodeToString(b[:])
	exec(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, base, "DROP DATABASE "+name+" WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("AUTH_TEST_POSTGRES_URL is not a URL")
	}
	u.Path = "/" + name
	return u.String()
}

// schemaURL creates schema in the database of dbURL and returns a URL with
// it as the only search_path.
func schemaURL(t *testing.T, dbURL, schema string) string {
	t.Helper()
	exec(t, dbURL, "CREATE SCHEMA "+schema)
	u, _ := url.Parse(dbURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func extensionSchema(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var schema string
	err := db.SQL().QueryRowContext(t.Context(),
		"SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").Scan(&schema)
	if err != nil {
		t.Fatalf("where is pg_trgm: %v", err)
	}
	return schema
}

// assertSearchWorks creates a user and finds it by a piece of its name.
func assertSearchWorks(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	s := sqlstore.NewUserStore(db)
	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	u := testUser("u-"+tag, tag+"@example.com")
	u.Name = "Grace Hopper " + tag
	if err := s.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(t.Context(), ports.UserQuery{Search: "HOPPER " + strings.ToUpper(tag[:6]), Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != u.ID {
		t.Fatalf("List by a piece of the name = %v, %v", got, err)
	}
}
