-- +goose Up
-- Ids are UUIDv7 strings, ordered by creation time. COLLATE "C" makes their
-- order bytewise whatever the database's locale, so a keyset page over id
-- (WHERE id > $cursor ORDER BY id) agrees with Go's string order and SQLite's.
CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    name          text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    is_active     boolean     NOT NULL,
    role          text        NOT NULL CHECK (role IN ('user', 'admin')),
    first_name    text,
    last_name     text,
    phone_number  text,
    address       text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    version       bigint      NOT NULL
);
-- The database, not a read before the insert, decides who gets an email, so
-- two concurrent registrations give one success and one ErrEmailTaken.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE sessions (
    id           text COLLATE "C" PRIMARY KEY,
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text        NOT NULL,
    ip           text        NOT NULL,
    version      bigint      NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- hash is the SHA-256 of the refresh secret; the secret is never stored.
CREATE TABLE refresh_tokens (
    hash       bytea PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
