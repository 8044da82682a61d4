package sqlstore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/adapters/sqlstore/sqlstoretest"
	"github.com/authd/authd/domain"
)

// watchChanges starts db.Watch and returns the changes it hears.
func watchChanges(t *testing.T, db *sqlstore.DB) <-chan sqlstore.Change {
	t.Helper()
	got := make(chan sqlstore.Change, 64)
	stop, err := db.Watch(t.Context(), func(c sqlstore.Change) { got <- c })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return got
}

// next returns the next change heard. Notifications arrive in commit
// order, so "the next one is B" also proves that nothing came before it:
// the tests show what must stay silent by committing it just before
// something that must not.
func next(t *testing.T, got <-chan sqlstore.Change) sqlstore.Change {
	t.Helper()
	select {
	case c := <-got:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change heard within 10s")
		return sqlstore.Change{}
	}
}

func expectChange(t *testing.T, got <-chan sqlstore.Change, kind, id string) {
	t.Helper()
	if c := next(t, got); c != (sqlstore.Change{Kind: kind, ID: id}) {
		t.Fatalf("heard %+v, want %s %s", c, kind, id)
	}
}

// What authentication depends on is heard by every process watching the
// schema, when it commits: a user's every change and deletion, a session's
// revocation, whichever way it is revoked. A refresh, which rotates a
// session on every use, and a failed write are not.
func TestWatchHearsWhatAuthenticationDependsOn(t *testing.T) {
	db := sqlstoretest.NewDB(t, sqlstore.DialectPostgres)
	got := watchChanges(t, db)
	ctx := t.Context()
	users, sessions := sqlstore.NewUserStore(db), sqlstore.NewSessionStore(db)
	now := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	newSession := func(id domain.SessionID, user domain.UserID) domain.RefreshSecret {
		t.Helper()
		secret := domain.NewRefreshSecret()
		tok := domain.RefreshToken{Hash: secret.Hash(), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := sessions.Create(ctx, domain.Session{ID: id, UserID: user, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}, tok); err != nil {
			t.Fatal(err)
		}
		return secret
	}

	// Creating a user or a session is silent; the first change heard is
	// the update.
	if err := users.Create(ctx, testUser("u1", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	secret := newSession("s1", "u1")
	newSession("s2", "u1")
	newSession("s3", "u1")
	if _, err := users.Update(ctx, "u1", func(u *domain.User) error { u.Name = "Grace Hopper"; return nil }); err != nil {
		t.Fatal(err)
	}
	expectChange(t, got, "user", "u1")

	// A rotation is silent, and so is an update whose fn refuses.
	if _, err := sessions.Exchange(ctx, secret.Hash(), func(s *domain.Session, _ *domain.RefreshToken) (*domain.RefreshToken, error) {
		s.LastUsedAt = now.Add(time.Minute)
		next := domain.NewRefreshSecret()
		return &domain.RefreshToken{Hash: next.Hash(), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	if _, err := users.Update(ctx, "u1", func(*domain.User) error { return refused }); !errors.Is(err, refused) {
		t.Fatal(err)
	}
	if _, err := sessions.Revoke(ctx, "s1", now); err != nil {
		t.Fatal(err)
	}
	expectChange(t, got, "session", "s1")

	// Revoking again changes nothing and is silent; RevokeAllOf is heard
	// once per session it revoked.
	if _, err := sessions.Revoke(ctx, "s1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.RevokeAllOf(ctx, "u1", "s3", now); err != nil {
		t.Fatal(err)
	}
	expectChange(t, got, "session", "s2")

	if err := users.Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	expectChange(t, got, "user", "u1")
}

// Schemas sharing a database share the channel; each hears its own only.
// Theirs commits first, under another id, so hearing ours next proves
// theirs was dropped.
func TestWatchHearsItsOwnSchemaOnly(t *testing.T) {
	ours, theirs := sqlstoretest.NewDB(t, sqlstore.DialectPostgres), sqlstoretest.NewDB(t, sqlstore.DialectPostgres)
	got := watchChanges(t, ours)
	for _, w := range []struct {
		db *sqlstore.DB
		id domain.UserID
	}{{theirs, "their-user"}, {ours, "our-user"}} {
		users := sqlstore.NewUserStore(w.db)
		if err := users.Create(t.Context(), testUser(string(w.id), "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		if err := users.Delete(t.Context(), w.id); err != nil {
			t.Fatal(err)
		}
	}
	expectChange(t, got, "user", "our-user")
}

func TestWatchNeedsPostgres(t *testing.T) {
	db := sqlstoretest.NewDB(t, sqlstore.DialectSQLite)
	if _, err := db.Watch(t.Context(), func(sqlstore.Change) {}); !errors.Is(err, sqlstore.ErrWatchUnsupported) {
		t.Fatalf("Watch on SQLite = %v, want ErrWatchUnsupported", err)
	}
}

// openWatched opens the schema's database with opts, migrated, and returns
// it with the schema's name and a connection to the database outside it.
func openWatched(t *testing.T, opts sqlstore.Options) (*sqlstore.DB, string, *sql.DB) {
	t.Helper()
	dbURL := sqlstoretest.PostgresSchemaURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.URL, opts.MaxOpenConns = dbURL, 2
	db, err := sqlstore.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", sqlstoretest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return db, u.Query().Get("search_path"), admin
}

// watchers returns the pids of schema's watch connections, and the last
// query each sent.
func watchers(t *testing.T, admin *sql.DB, schema string) (pids []int, queries []string) {
	t.Helper()
	rows, err := admin.QueryContext(t.Context(), "SELECT pid, query FROM pg_stat_activity WHERE application_name = $1", "authd watch "+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		var query string
		if err := rows.Scan(&pid, &query); err != nil {
			t.Fatal(err)
		}
		pids, queries = append(pids, pid), append(queries, query)
	}
	return pids, queries
}

// When the listening connection dies (a PostgreSQL restart, a failover, an
// idle-connection killer), Watch reconnects by itself and hears changes
// again, says in the log that it was away, and tells fn that anything may
// have changed meanwhile.
func TestWatchReconnectsAfterItsConnectionDies(t *testing.T) {
	logs := &syncBuffer{}
	db, schema, admin := openWatched(t, sqlstore.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	got := watchChanges(t, db)

	before, _ := watchers(t, admin, schema)
	if len(before) != 1 {
		t.Fatalf("%d watch connections for the schema, want 1", len(before))
	}
	if _, err := admin.ExecContext(t.Context(), "SELECT pg_terminate_backend($1)", before[0]); err != nil {
		t.Fatal(err)
	}
	if c := next(t, got); c != (sqlstore.Change{Kind: sqlstore.ChangedUnknown}) {
		t.Fatalf("first heard after the connection died: %+v, want ChangedUnknown", c)
	}
	// ChangedUnknown comes once the new connection listens, so the change
	// below, committed after it, must be heard.
	if pids, _ := watchers(t, admin, schema); len(pids) != 1 || pids[0] == before[0] {
		t.Fatalf("watch connections %v after reconnecting (killed %d), want one new one", pids, before[0])
	}

	users := sqlstore.NewUserStore(db)
	if err := users.Create(t.Context(), testUser("u1", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	expectChange(t, got, "user", "u1")
	for _, want := range []string{"lost the connection that hears about changes", "hearing about changes made by other instances again"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// A silent listening connection is probed with a query, so a peer that
// vanished is noticed and an idle-connection killer sees traffic; the
// timed-out waits in between leave the connection listening.
func TestWatchProbesASilentConnection(t *testing.T) {
	db, schema, admin := openWatched(t, sqlstore.Options{WatchProbeEvery: 20 * time.Millisecond})
	got := watchChanges(t, db)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, queries := watchers(t, admin, schema)
		if len(pids) != 1 {
			t.Fatalf("%d watch connections for the schema, want 1", len(pids))
		}
		if queries[0] == "SELECT 1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watch connection's last query is still %q after 10s, want the probe", queries[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	users := sqlstore.NewUserStore(db)
	if err := users.Create(t.Context(), testUser("u1", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	expectChange(t, got, "user", "u1")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
