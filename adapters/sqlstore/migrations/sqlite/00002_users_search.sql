-- +goose Up
-- Nothing to do. PostgreSQL's 00002 adds trigram indexes for the substring
-- search of GET /admin/users?q=; SQLite has no index that serves
-- LIKE '%q%', so the embedded store scans, which suits the small
-- deployments it is meant for. The migration exists so that a version
-- number names the same step in both dialects.
SELECT 1;

-- +goose Down
SELECT 1;
