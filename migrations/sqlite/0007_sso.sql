-- gatehouse schema version 6: single sign-on sessions of the hosted sign-in page and the third-party client flag. The cookie holds a
-- random secret; only its SHA-256 is stored. Never edit a released migration: add a new file.
CREATE TABLE sso_sessions (
    id_hash     TEXT PRIMARY KEY,          -- SHA-256 of the cookie's secret
    pool_id     TEXT NOT NULL,
    sub         TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,          -- when the user typed the password
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sso_sessions_by_expiry ON sso_sessions (expires_at);

-- A third-party client: /oauth2/authorize asks the user to approve the scopes and resource it requests.
ALTER TABLE app_clients ADD COLUMN consent_required INTEGER NOT NULL DEFAULT 0;
