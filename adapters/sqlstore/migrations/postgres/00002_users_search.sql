-- +goose Up
-- GET /admin/users?q= is a case-insensitive substring match on email or name
-- (email ILIKE '%q%' OR name ILIKE '%q%'). A B-tree cannot serve a pattern
-- with a leading wildcard; trigram GIN indexes can, for both columns, which
-- the planner combines with a BitmapOr. QUERYPLAN.md shows the plans.
--
-- pg_trgm is an extension, and an extension is installed once per database,
-- in one schema, whatever the search_path of the migration. So:
--   * it goes into public, never into the schema being migrated: dropping
--     that schema (a test's cleanup) would otherwise drop the extension and
--     with it the indexes of every other schema using it;
--   * where it already is (installed by a DBA, or by another deployment in a
--     schema of its own) it is used where it is, and the operator class is
--     named with that schema, so it does not matter whether the schema is on
--     the search_path;
--   * schemas migrated at the same time take turns on an advisory lock held
--     to the end of this transaction, or two could both find the extension
--     missing and one CREATE EXTENSION would fail.
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may
-- create it. A role that may not can have a DBA run CREATE EXTENSION pg_trgm
-- once beforehand, in any schema. IF NOT EXISTS lets an operator build the
-- indexes beforehand with CREATE INDEX CONCURRENTLY on a large table, which
-- this migration cannot do inside its transaction (see QUERYPLAN.md).
-- +goose StatementBegin
DO $$
DECLARE
    trgm_schema name;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('authd: create extension pg_trgm', 0));
    SELECT n.nspname INTO trgm_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NULL THEN
        CREATE EXTENSION pg_trgm WITH SCHEMA public;
        trgm_schema := 'public';
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS users_email_trgm_idx ON users USING gin (email %I.gin_trgm_ops)', trgm_schema);
    EXECUTE format('CREATE INDEX IF NOT EXISTS users_name_trgm_idx ON users USING gin (name %I.gin_trgm_ops)', trgm_schema);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The extension stays: it is database-wide and other schemas may use it.
DROP INDEX users_name_trgm_idx;
DROP INDEX users_email_trgm_idx;
