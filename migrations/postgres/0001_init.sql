-- gatehouse PostgreSQL schema, version 1: the same tables as migrations/sqlite (versions 1 and 2 together), for
-- several instances sharing one database. Never edit a released migration: add a new file.
CREATE TABLE user_pools (
    id          TEXT PRIMARY KEY,              -- us-east-1_XXXXXXXXX
    region      TEXT NOT NULL,
    slot        BIGINT NOT NULL UNIQUE,        -- 1 = the embedded default pool
    created_at  BIGINT NOT NULL
);

CREATE TABLE app_clients (
    id               TEXT PRIMARY KEY,
    pool_id          TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    slot             BIGINT,                   -- 1 = the pool's default public client
    auth_flows       TEXT NOT NULL,            -- space-separated ALLOW_* flags
    created_at       BIGINT NOT NULL,
    secret           TEXT,                     -- NULL: public client
    scopes           TEXT NOT NULL DEFAULT 'aws.cognito.signin.user.admin',
    access_validity  BIGINT NOT NULL DEFAULT 3600,
    id_validity      BIGINT NOT NULL DEFAULT 3600,
    refresh_validity BIGINT NOT NULL DEFAULT 2592000,
    rotation         BOOLEAN NOT NULL DEFAULT FALSE,
    grace_seconds    BIGINT NOT NULL DEFAULT 0,
    allowed_origins  TEXT NOT NULL DEFAULT '',
    UNIQUE (pool_id, slot)
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    pkcs8       BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

CREATE TABLE users (
    pool_id         TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    sub             TEXT NOT NULL UNIQUE,
    username        TEXT NOT NULL,
    email           TEXT,
    password_hash   TEXT NOT NULL,
    status          TEXT NOT NULL,             -- CONFIRMED | FORCE_CHANGE_PASSWORD | UNCONFIRMED
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT NOT NULL,
    srp_salt        TEXT,                      -- hex
    srp_verifier    TEXT,                      -- hex; secret (one SHA-256 from the password)
    attributes      TEXT NOT NULL DEFAULT '{}',
    email_verified  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (pool_id, username)
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,              -- SHA-256 of the opaque token; the token itself is never stored
    pool_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    sub         TEXT NOT NULL,
    origin_jti  TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    family_id   TEXT NOT NULL,                 -- every token rotated from one sign-in shares it
    rotated_at  BIGINT                         -- when it was exchanged for a successor
);
CREATE INDEX refresh_tokens_by_sub ON refresh_tokens (pool_id, sub);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE runtimes (
    name        TEXT PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE session_bindings (
    runtime_arn TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    sub         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    instance    TEXT,                          -- which instance runs the session's agent process; NULL: none
    PRIMARY KEY (runtime_arn, session_id)
);

CREATE TABLE codes (
    pool_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    purpose     TEXT NOT NULL,                 -- confirm_sign_up | forgot_password
    code_hash   TEXT NOT NULL,                 -- SHA-256; the code is never stored
    expires_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username, purpose)
);

-- Polled by every instance (revocations_after). Writers hold a transaction-scoped advisory lock while they insert,
-- so ids become visible in increasing order and a poller that has seen id N never misses a smaller one.
CREATE TABLE revocations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id     TEXT NOT NULL,
    origin_jti  TEXT,
    sub         TEXT,
    not_before  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX revocations_by_sub ON revocations (pool_id, sub, id);
CREATE INDEX revocations_by_jti ON revocations (origin_jti);
