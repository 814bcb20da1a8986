-- gatehouse embedded schema, version 1. Never edit a released migration: add a new file.
CREATE TABLE user_pools (
    id          TEXT PRIMARY KEY,              -- us-east-1_XXXXXXXXX
    region      TEXT NOT NULL,
    slot        INTEGER NOT NULL UNIQUE,       -- 1 = the embedded default pool
    created_at  INTEGER NOT NULL
);

CREATE TABLE app_clients (
    id          TEXT PRIMARY KEY,              -- 26 lower-case alphanumerics
    pool_id     TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    slot        INTEGER,                       -- 1 = the pool's default public client
    auth_flows  TEXT NOT NULL,                 -- space-separated ALLOW_* flags
    created_at  INTEGER NOT NULL,
    UNIQUE (pool_id, slot)
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    pkcs8       BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE users (
    pool_id         TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    sub             TEXT NOT NULL UNIQUE,
    username        TEXT NOT NULL,
    email           TEXT,
    password_hash   TEXT NOT NULL,
    status          TEXT NOT NULL,             -- CONFIRMED | FORCE_CHANGE_PASSWORD | UNCONFIRMED
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (pool_id, username)
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,              -- SHA-256 of the opaque token; the token itself is never stored
    pool_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    sub         TEXT NOT NULL,
    origin_jti  TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_by_sub ON refresh_tokens (pool_id, sub);

CREATE TABLE runtimes (
    name        TEXT PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE session_bindings (
    runtime_arn TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    sub         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (runtime_arn, session_id)
);
