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
	Kind string // ChangedUser, ChangedSession or ChangedUnknown
	ID   string // empty for ChangedUnknown
}

// Change kinds.
const (
	ChangedUser    = "user"
	ChangedSession = "session"
	// ChangedUnknown says Watch was away (its connection broke and it has
	// just reconnected): any row may have changed meanwhile unheard.
	ChangedUnknown = "unknown"
)

// DefaultWatchProbeEvery is how long the listening connection may sit
// silent before Watch sends a query down it (Options.WatchProbeEvery). A
// peer that vanished without a word (a failover, a cut cable) is otherwise
// noticed only by TCP keepalive, minutes later; the query also keeps an
// idle-connection killer between here and PostgreSQL from taking the
// connection for an idle one.
const DefaultWatchProbeEvery = 30 * time.Second

// changesChannel is the channel the migration's triggers notify.
const changesChannel = "authd_changed"

// Watch calls fn with every Change committed to this database's schema by
// any process, from when it returns until stop is called. fn runs on the
// watching goroutine, one Change at a time, and must not block for long.
//
// It listens on a connection of its own, outside the pool, which must reach
// PostgreSQL itself or a pooler in session mode (LISTEN means nothing
// through a transaction-mode pooler). When that connection breaks, or
// stops answering the query sent down it after a silence
// (Options.WatchProbeEvery), Watch reconnects with a backoff, logs it, and
// calls fn with a ChangedUnknown Change: what was committed while it was
// away is lost to it. The error is for the first connection only (and
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
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		_ = conn.Close(context.Background())
		return nil, "", fmt.Errorf("sqlstore: watch: %w", err)
	}
	// Named after LISTEN, so that a connection pg_stat_activity shows under
	// this name is already listening.
	var schema string
	err = conn.QueryRow(ctx, "SELECT s, set_config('application_name', 'authd watch ' || s, false) FROM current_schema() s").
		Scan(&schema, new(string))
	if err != nil {
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
	for {
		err := db.hear(ctx, conn, schema, fn)
		if ctx.Err() != nil {
			return
		}
		db.log.Warn("lost the connection that hears about changes made by other instances; reconnecting",
			"err", err)
		_ = conn.Close(context.Background())
		conn = nil
		for delay := 100 * time.Millisecond; conn == nil; delay = min(2*delay, 5*time.Second) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			if c, s, err := db.listen(ctx); err == nil {
				conn, schema = c, s
			}
		}
		db.log.Warn("hearing about changes made by other instances again; a change made while away is served from the cache until its entry expires, unless the cache is dropped")
		fn(Change{Kind: ChangedUnknown})
	}
}

// hear passes conn's notifications for schema to fn until conn fails (its
// error) or ctx ends. After db.probeEvery of silence it sends a query down
// conn, whose failure is conn's.
func (db *DB) hear(ctx context.Context, conn *pgx.Conn, schema string, fn func(Change)) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, db.probeEvery)
		// A wait that times out leaves the connection usable: pgconn
		// closes it on any error but a network timeout.
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			if c, ok := parseChange(n.Payload, schema); ok {
				fn(c)
			}
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = conn.Exec(pctx, "SELECT 1")
			cancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("probe: %w", err)
			}
		default:
			return err
		}
	}
}

// parseChange reads "<schema> <kind> <id>", keeping only schema's. It cuts
// from the right: a quoted schema name may hold a space, a kind or id not.
func parseChange(payload, schema string) (Change, bool) {
	i := strings.LastIndexByte(payload, ' ')
	if i < 0 {
		return Change{}, false
	}
	rest, id := payload[:i], payload[i+1:]
	j := strings.LastIndexByte(rest, ' ')
	if j < 0 || rest[:j] != schema {
		return Change{}, false
	}
	kind := rest[j+1:]
	if id == "" || (kind != ChangedUser && kind != ChangedSession) {
		return Change{}, false
	}
	return Change{Kind: kind, ID: id}, true
}
