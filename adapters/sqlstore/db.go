// Package sqlstore keeps users and sessions in PostgreSQL or SQLite through
// one GORM implementation. Open picks the database from the URL; Migrate
// applies the schema embedded in the binary.
//
// Times are stored in UTC and truncated to microseconds, the precision of
// PostgreSQL's timestamptz, so both databases return the same instants.
// Truncating in Go (rather than letting PostgreSQL round) keeps a stored time
// from ever moving later than the one given.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Dialect names, as (*DB).Dialect returns them.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Options configure Open. Zero pool values keep database/sql's defaults.
type Options struct {
	// URL is postgres://… or postgresql://… (passed to pgx, so query
	// parameters such as sslmode and search_path work), sqlite://PATH (a
	// file; its directory is created) or sqlite::memory: (a private
	// in-memory database that lives as long as the DB).
	URL string
	// MaxOpenConns, MaxIdleConns and ConnMaxLifetime size the PostgreSQL
	// pool. SQLite always uses one connection (see openSQLite).
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	// Logger receives migration progress; nil discards it. SQL is never
	// logged.
	Logger *slog.Logger
	// WatchProbeEvery is how long Watch's connection may be silent before
	// a query is sent down it to prove it alive; zero means
	// DefaultWatchProbeEvery.
	WatchProbeEvery time.Duration
}

// DB is an open database. It is safe for concurrent use.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect string
	url     string // for Watch's connection of its own (PostgreSQL)
	log     *slog.Logger

	probeEvery time.Duration // Watch's; see Options.WatchProbeEvery
}

// Open connects to the database named by opts.URL and checks that it
// answers within ctx. The error never repeats the URL, which may hold a
// password.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		dialector gorm.Dialector
		dialect   string
		sqliteDSN string
		err       error
	)
	switch u := opts.URL; {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		dialect, dialector = DialectPostgres, postgres.Open(u)
	case u == "sqlite::memory:", strings.HasPrefix(u, "sqlite://"):
		dialect = DialectSQLite
		if sqliteDSN, err = sqliteDSNOf(u); err != nil {
			return nil, err
		}
		dialector = sqlite.Open(sqliteDSN)
	default:
		return nil, fmt.Errorf("sqlstore: unsupported database URL scheme %q: want postgres://, postgresql://, sqlite://PATH or sqlite::memory:", schemeOf(u))
	}

	g, err := gorm.Open(dialector, &gorm.Config{
		// Errors come back as values we translate at the edge; GORM's
		// logger would print SQL with its arguments (emails, hashes).
		Logger:         logger.Discard,
		TranslateError: true,
		// Single statements need no transaction of their own; the methods
		// that read and then write open one explicitly.
		SkipDefaultTransaction: true,
		// Ping below, under ctx, instead of GORM's unbounded one.
		DisableAutomaticPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", dialect, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", dialect, err)
	}
	if dialect == DialectSQLite {
		// SQLite takes one writer at a time, and a deferred transaction that
		// reads and then writes (Update, Exchange) can fail with SQLITE_BUSY
		// instead of waiting when another connection wrote in between; a
		// single connection makes database/sql queue transactions instead.
		// A :memory: database also exists only on the connection that made
		// it, so that connection must never be closed or replaced. Reads
		// queue behind writes as a result, which suits the embedded store;
		// PostgreSQL is the answer to more load.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	} else {
		if opts.MaxOpenConns > 0 {
			sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
		}
		if opts.MaxIdleConns > 0 {
			sqlDB.SetMaxIdleConns(opts.MaxIdleConns)
		}
		if opts.ConnMaxLifetime > 0 {
			sqlDB.SetConnMaxLifetime(opts.ConnMaxLifetime)
		}
	}
	db := &DB{gorm: g, sql: sqlDB, dialect: dialect, log: log, probeEvery: cmp.Or(opts.WatchProbeEvery, DefaultWatchProbeEvery)}
	if dialect == DialectPostgres {
		db.url = opts.URL
	}
	if err := db.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// sqliteDSNOf turns sqlite::memory: or sqlite://PATH into the driver's DSN,
// creating PATH's directory.
func sqliteDSNOf(u string) (string, error) {
	// Every connection gets these pragmas: foreign keys are off by default
	// in SQLite, and without them ON DELETE CASCADE does nothing. The busy
	// timeout matters when another process (authd migrate, create-admin)
	// holds the file; _txlock=immediate takes the write lock at BEGIN, so
	// such a wait happens there, under the busy timeout, instead of failing
	// when a read-then-write transaction upgrades its lock.
	params := "?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_txlock=immediate"
	if u == "sqlite::memory:" {
		return ":memory:" + params, nil
	}
	path := strings.TrimPrefix(u, "sqlite://")
	switch {
	case path == "":
		return "", errors.New("sqlstore: sqlite:// URL names no file: want sqlite://PATH or sqlite::memory:")
	case strings.ContainsAny(path, "?#"):
		return "", errors.New("sqlstore: sqlite:// URL takes no query or fragment: want sqlite://PATH")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("sqlstore: create the SQLite database directory: %w", err)
	}
	// WAL lets readers go on while a write commits and survives crashes as
	// well as the rollback journal; it is a property of the file, so it is
	// only asked for here.
	return path + params + "&_pragma=journal_mode(WAL)", nil
}

// schemeOf returns what precedes the first colon, for error messages that
// must not repeat credentials.
func schemeOf(u string) string {
	scheme, _, found := strings.Cut(u, ":")
	if !found || len(scheme) > 20 {
		return ""
	}
	return scheme
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping %s: %w", db.dialect, err)
	}
	return nil
}

// Close closes the pool. An in-memory SQLite database is gone afterwards.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// Stats reports the connection pool (for metrics).
func (db *DB) Stats() sql.DBStats { return db.sql.Stats() }

// Dialect returns DialectPostgres or DialectSQLite.
func (db *DB) Dialect() string { return db.dialect }

// forUpdate locks the rows a transaction reads until it ends. Only
// PostgreSQL needs it: SQLite has no row locks, and its single connection
// (see Open) already runs one transaction at a time.
func (db *DB) forUpdate(tx *gorm.DB) *gorm.DB {
	if db.dialect == DialectPostgres {
		return tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	return tx
}

// dbTime is t as the database keeps it.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := dbTime(*t)
	return &v
}

// fromDB is a time read back, in UTC whatever the driver's location.
func fromDB(t time.Time) time.Time { return t.UTC() }

func fromDBPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := fromDB(*t)
	return &v
}
