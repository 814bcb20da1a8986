-- gatehouse schema version 2: the full Cognito user pool (issue 3). Never edit a released migration: add a new file.
ALTER TABLE users ADD COLUMN srp_salt TEXT;                 -- hex; SRP-6a salt, set with the password
ALTER TABLE users ADD COLUMN srp_verifier TEXT;             -- hex; v = g^x mod N (secret: one SHA-256 from the password)
ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';   -- other attributes, a JSON object of strings
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

ALTER TABLE app_clients ADD COLUMN secret TEXT;             -- NULL: public client
ALTER TABLE app_clients ADD COLUMN scopes TEXT NOT NULL DEFAULT 'aws.cognito.signin.user.admin';
ALTER TABLE app_clients ADD COLUMN access_validity INTEGER NOT NULL DEFAULT 3600;     -- seconds
ALTER TABLE app_clients ADD COLUMN id_validity INTEGER NOT NULL DEFAULT 3600;         -- seconds
ALTER TABLE app_clients ADD COLUMN refresh_validity INTEGER NOT NULL DEFAULT 2592000; -- seconds
ALTER TABLE app_clients ADD COLUMN rotation INTEGER NOT NULL DEFAULT 0;               -- refresh-token rotation on/off
ALTER TABLE app_clients ADD COLUMN grace_seconds INTEGER NOT NULL DEFAULT 0;          -- RetryGracePeriodSeconds 0-60
ALTER TABLE app_clients ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';          -- space-separated CORS origins

ALTER TABLE refresh_tokens ADD COLUMN family_id TEXT;       -- every token rotated from one sign-in shares it
ALTER TABLE refresh_tokens ADD COLUMN rotated_at INTEGER;   -- when it was exchanged for a successor
UPDATE refresh_tokens SET family_id = token_hash WHERE family_id IS NULL;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE codes (
    pool_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    purpose     TEXT NOT NULL,             -- confirm_sign_up | forgot_password
    code_hash   TEXT NOT NULL,             -- SHA-256 of pool, username, purpose and code; the code is never stored
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (pool_id, username, purpose)
);

-- Read by the gateway by polling (revocations_after): a token is revoked if a row names its origin_jti, or if the
-- latest row for its sub has not_before >= its iat.
CREATE TABLE revocations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id     TEXT NOT NULL,
    origin_jti  TEXT,
    sub         TEXT,
    not_before  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX revocations_by_sub ON revocations (pool_id, sub, id);
CREATE INDEX revocations_by_jti ON revocations (origin_jti);
