package sqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/adapters/sqlstore/sqlstoretest"
)

func TestMigrateAppliesOnceThenIsANoOp(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		db := sqlstoretest.NewEmptyDB(t, dialect)
		current, latest, err := db.MigrationVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if current != 0 || latest < 1 {
			t.Fatalf("before Migrate: at version %d of %d, want 0 of at least 1", current, latest)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if current, _, err = db.MigrationVersions(ctx); err != nil || current != latest {
			t.Fatalf("after Migrate: at version %d (%v), want %d", current, err, latest)
		}
		users := sqlstore.NewUserStore(db)
		if err := users.Create(ctx, testUser("u1", "ada@example.com")); err != nil {
			t.Fatalf("Create after Migrate: %v", err)
		}
		before := countRows(t, db, "goose_db_version")

		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if after := countRows(t, db, "goose_db_version"); after != before {
			t.Fatalf("second Migrate recorded %d more migrations", after-before)
		}
		if _, err := users.ByID(ctx, "u1"); err != nil {
			t.Fatalf("the user after the second Migrate: %v", err)
		}
	})
}

func TestMigrateDownThenUp(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		db := sqlstoretest.NewDB(t, dialect)
		if err := db.MigrateDownAll(ctx); err != nil {
			t.Fatalf("down: %v", err)
		}
		for _, table := range []string{"users", "sessions", "refresh_tokens"} {
			if _, err := db.SQL().ExecContext(ctx, "SELECT 1 FROM "+table); err == nil {
				t.Errorf("table %s survived the down migrations", table)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if err := sqlstore.NewUserStore(db).Create(ctx, testUser("u1", "ada@example.com")); err != nil {
			t.Fatalf("Create after down and up: %v", err)
		}
	})
}

// Instances starting together all migrate; the advisory lock makes them
// take turns, so each succeeds and every migration is applied once.
func TestConcurrentMigratePostgres(t *testing.T) {
	t.Parallel()
	url := sqlstoretest.PostgresSchemaURL(t)
	const instances = 3
	dbs := make([]*sqlstore.DB, instances)
	for i := range dbs {
		dbs[i] = sqlstoretest.Open(t, url)
	}
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	_, latest, err := dbs[0].MigrationVersions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// goose records version 0 (its own table) plus one row per migration.
	if n := countRows(t, dbs[0], "goose_db_version"); n != int(latest)+1 {
		t.Fatalf("goose_db_version has %d rows, want %d", n, latest+1)
	}
}

func TestMigrateLogsWhatItApplies(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	db, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite::memory:", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "migration applied") || !strings.Contains(buf.String(), "version=1") {
		t.Fatalf("log after the first Migrate:\n%s", buf.String())
	}
	buf.Reset()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("the second Migrate logged:\n%s", buf.String())
	}
}

func countRows(t *testing.T, db *sqlstore.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
