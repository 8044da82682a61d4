package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/adapters/sqlstore/sqlstoretest"
)

func TestOpenRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{"empty", "", "unsupported database URL scheme"},
		{"other scheme", "mysql://authd:s3cret@db:3306/authd", `unsupported database URL scheme "mysql"`},
		{"no scheme", "authd.db", "unsupported database URL scheme"},
		{"sqlite without slashes", "sqlite:authd.db", `unsupported database URL scheme "sqlite"`},
		{"sqlite without a path", "sqlite://", "names no file"},
		{"sqlite with a query", "sqlite://data/authd.db?mode=ro", "takes no query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlstore.Open(t.Context(), sqlstore.Options{URL: tc.url})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q) = %q, want it to say %q", tc.url, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open's error repeats the password: %q", err)
			}
		})
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	// Port 1 refuses connections; Open must say so rather than return a DB
	// that fails later.
	db, err := sqlstore.Open(t.Context(), sqlstore.Options{URL: "postgres://authd:s3cret@127.0.0.1:1/authd?sslmode=disable&connect_timeout=5"})
	if err == nil {
		db.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if !strings.Contains(err.Error(), "ping postgres") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open = %q, want a ping error without the password", err)
	}
}

func TestSQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not", "yet", "there", "authd.db")
	ctx := t.Context()
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(ctx, sqlstore.Options{URL: "sqlite://" + path, MaxOpenConns: 10})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return db
	}
	db := open()
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		t.Fatalf("the database's directory was not created: %v", err)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
		var got string
		if err := db.SQL().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	if n := db.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("SQLite pool allows %d connections, want 1 whatever the options say", n)
	}
	if err := sqlstore.NewUserStore(db).Create(ctx, testUser("u1", "ada@example.com")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = open()
	defer db.Close()
	if _, err := sqlstore.NewUserStore(db).ByID(ctx, "u1"); err != nil {
		t.Fatalf("the user after reopening the file: %v", err)
	}
}

func TestSQLiteMemoryIsPrivate(t *testing.T) {
	a := sqlstoretest.NewDB(t, sqlstore.DialectSQLite)
	b := sqlstoretest.NewEmptyDB(t, sqlstore.DialectSQLite)
	if err := sqlstore.NewUserStore(a).Create(t.Context(), testUser("u1", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	// b was never migrated: if it shared a's database it would find the
	// table and the user.
	if _, err := sqlstore.NewUserStore(b).ByID(t.Context(), "u1"); err == nil {
		t.Fatal("a second sqlite::memory: database sees the first one's user")
	}
}

func TestPingStatsDialect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := sqlstoretest.NewDB(t, dialect)
		if got := db.Dialect(); got != dialect {
			t.Errorf("Dialect = %q, want %q", got, dialect)
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		want := map[string]int{sqlstore.DialectSQLite: 1, sqlstore.DialectPostgres: 4}[dialect] // sqlstoretest asks for 4
		if got := db.Stats().MaxOpenConnections; got != want {
			t.Errorf("Stats().MaxOpenConnections = %d, want %d", got, want)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := db.Ping(ctx); err == nil {
			t.Error("Ping with a cancelled context succeeded")
		}
	})
}

func TestPingAfterClose(t *testing.T) {
	db, err := sqlstore.Open(t.Context(), sqlstore.Options{URL: "sqlite::memory:"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}
