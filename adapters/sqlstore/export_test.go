package sqlstore

import (
	"context"
	"database/sql"
)

// Hooks for the external tests in package sqlstore_test.

// SQL returns the pool, to inspect the database directly.
func (db *DB) SQL() *sql.DB { return db.sql }

// MigrateDownAll rolls back every migration, to prove the down halves work.
func (db *DB) MigrateDownAll(ctx context.Context) error {
	p, err := db.migrator(ctx)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, 0)
	return err
}

// MigrationVersions returns the version the database is at and the latest
// embedded one.
func (db *DB) MigrationVersions(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrator(ctx)
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}
