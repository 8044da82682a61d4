-- +goose Up
-- Time columns are declared DATETIME so the driver parses them back into
-- time.Time. The driver writes them as text, "2006-01-02 15:04:05.999999999-07:00"
-- with the fraction's trailing zeros dropped, and the store only writes UTC
-- (+00:00). Since '+' sorts before '.' and '.' before the digits, such texts
-- compare and sort in time order, so SQL comparisons on them are correct.
CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    is_active     BOOLEAN NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
    first_name    TEXT,
    last_name     TEXT,
    phone_number  TEXT,
    address       TEXT,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    version       INTEGER NOT NULL
);
-- The database, not a read before the insert, decides who gets an email.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE sessions (
    id           TEXT     NOT NULL PRIMARY KEY,
    user_id      TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    revoked_at   DATETIME,
    user_agent   TEXT     NOT NULL,
    ip           TEXT     NOT NULL,
    version      INTEGER  NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- hash is the SHA-256 of the refresh secret; the secret is never stored.
CREATE TABLE refresh_tokens (
    hash       BLOB     NOT NULL PRIMARY KEY,
    session_id TEXT     NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    rotated_at DATETIME
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
