package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one directory of numbered goose files per dialect. The two
// are kept in step by hand: a version number means the same schema in both.
//
//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrations embed.FS

// Migrate applies the migrations the database has not seen yet, in order,
// and logs each one it applies. Running it again is a no-op. On PostgreSQL
// concurrent callers (several instances starting at once) take turns under
// an advisory lock.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrator(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			db.log.InfoContext(ctx, "migration applied", "dialect", db.dialect, "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// migrator returns a goose provider over this database's migrations. It
// keeps no global goose state, and must not be closed: Close would close
// db's pool.
func (db *DB) migrator(ctx context.Context) (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		id, err := db.migrationLockID(ctx)
		if err != nil {
			return nil, err
		}
		// Poll every second for up to five minutes: instances starting
		// together wait for the first to finish rather than fail.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	dir, err := fs.Sub(migrations, "migrations/"+db.dialect)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db.sql, dir, opts...)
}

// migrationLockID names the advisory lock after the database and schema
// being migrated, so deployments (or tests) sharing one server in separate
// schemas do not wait for each other.
func (db *DB) migrationLockID(ctx context.Context) (int64, error) {
	var where string
	err := db.sql.QueryRowContext(ctx, "SELECT current_database() || '.' || coalesce(current_schema(), '')").Scan(&where)
	if err != nil {
		return 0, fmt.Errorf("find the schema to lock: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("authd migrations " + where))
	return int64(h.Sum64()), nil
}
