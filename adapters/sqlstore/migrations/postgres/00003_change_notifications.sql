-- +goose Up
-- Every instance keeps copies of users and sessions in a cache (Redis with
-- client-side caching, or process memory). A change made through one
-- instance reaches the others through that cache, unless the cache is
-- where the trouble is: an instance cut off from Redis, or instances with
-- no shared cache at all. So the database itself says what changed, on
-- the channel authd_changed, from inside the transaction that changed it:
-- PostgreSQL delivers a notification when that transaction commits, and
-- never for one that rolls back. sqlstore.DB.Watch listens.
--
-- The payload is "<schema> <kind> <id>", so that deployments (or tests)
-- sharing a database in schemas of their own ignore each other. Only what
-- authentication depends on is sent: every change or deletion of a user,
-- and a session's revocation. A refresh rotates its session on every use;
-- that stays silent, so it costs the other instances nothing.
-- +goose StatementBegin
CREATE FUNCTION authd_notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_changed', TG_TABLE_SCHEMA || ' user ' || OLD.id);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION authd_notify_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_changed', TG_TABLE_SCHEMA || ' session ' || OLD.id);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION authd_notify_user_changed();
CREATE TRIGGER sessions_revoked AFTER UPDATE ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION authd_notify_session_revoked();

-- +goose Down
DROP TRIGGER sessions_revoked ON sessions;
DROP TRIGGER users_changed ON users;
DROP FUNCTION authd_notify_session_revoked();
DROP FUNCTION authd_notify_user_changed();
