package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrWatchUnsupported is Watch's answer on SQLite, whose database has one
// process, and so no other writer to hear about.
var ErrWatchUnsupported = errors.New("sqlstore: watching for changes needs PostgreSQL")

// Change names a row that changed in the database: a user changed or
// deleted, or a session revoked (migration 00003 says which writes send
// one).
type Change struct {
	Kind string // ChangedUser or ChangedSession
	ID   string
}

// Change kinds.
const (
	ChangedUser    = "user"
	ChangedSession = "session"
)

// changesChannel is the channel the migration's triggers notify.
const changesChannel = "authd_changed"

// Watch calls fn with every Change committed to this database's schema by
// any process, from when it returns until stop is called. fn runs on the
// watching goroutine, one Change at a time, and must not block for long.
//
// It listens on a connection of its own, outside the pool. When that
// connection breaks, Watch reconnects with a backoff and logs what it
// could not hear meanwhile: changes committed while it was away are lost
// to it. The error is for the first connection only (and
// ErrWatchUnsupported on SQLite).
func (db *DB) Watch(ctx context.Context, fn func(Change)) (stop func(), err error) {
	if db.dialect != DialectPostgres {
		return nil, ErrWatchUnsupported
	}
	conn, schema, err := db.listen(ctx)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { db.watchLoop(wctx, conn, schema, fn) })
	return func() { cancel(); wg.Wait() }, nil
}

// listen opens the listening connection and learns which schema the pool's
// connections use (search_path), since notifications of every schema of
// the database share the channel.
func (db *DB) listen(ctx context.Context) (*pgx.Conn, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		// pgx's message may quote the connection string, password and all.
		return nil, "", errors.New("sqlstore: watch: cannot connect to PostgreSQL")
	}
	// Named, so that pg_stat_activity says what this idle connection is.
	var schema string
	err = conn.QueryRow(ctx, "SELECT s, set_config('application_name', 'authd watch ' || s, false) FROM current_schema() s").
		Scan(&schema, new(string))
	if err != nil {
		_ = conn.Close(context.Background())
		return nil, "", fmt.Errorf("sqlstore: watch: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		_ = conn.Close(context.Background())
		return nil, "", fmt.Errorf("sqlstore: watch: %w", err)
	}
	return conn, schema, nil
}

func (db *DB) watchLoop(ctx context.Context, conn *pgx.Conn, schema string, fn func(Change)) {
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	delay := 100 * time.Millisecond
	for {
		n, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			delay = 100 * time.Millisecond
			if c, ok := parseChange(n.Payload, schema); ok {
				fn(c)
			}
			continue
		}
		db.log.Warn("lost the connection that hears about changes made by other instances; reconnecting",
			"err", err)
		_ = conn.Close(context.Background())
		conn = nil
		for conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
			if c, s, err := db.listen(ctx); err == nil {
				conn, schema = c, s
			}
		}
		db.log.Warn("hearing about changes made by other instances again; a change made while away is served from the cache until its entry expires")
	}
}

// parseChange reads "<schema> <kind> <id>", keeping only schema's.
func parseChange(payload, schema string) (Change, bool) {
	s, rest, ok := strings.Cut(payload, " ")
	if !ok || s != schema {
		return Change{}, false
	}
	kind, id, ok := strings.Cut(rest, " ")
	if !ok || (kind != ChangedUser && kind != ChangedSession) {
		return Change{}, false
	}
	return Change{Kind: kind, ID: id}, true
}
