-- gatehouse schema version 3 (PostgreSQL): the OAuth 2.1 / OpenID Connect authorization server — a client's OAuth settings,
-- resource servers, authorization codes and the grants behind refresh-token families. Never edit a released
-- migration: add a new file.
ALTER TABLE app_clients ADD COLUMN callback_urls TEXT NOT NULL DEFAULT '';   -- space-separated redirect URIs
ALTER TABLE app_clients ADD COLUMN logout_urls TEXT NOT NULL DEFAULT '';     -- space-separated logout_uri values
ALTER TABLE app_clients ADD COLUMN oauth_flows TEXT NOT NULL DEFAULT '';     -- code | client_credentials
ALTER TABLE app_clients ADD COLUMN oauth_scopes TEXT NOT NULL DEFAULT '';    -- scopes /oauth2/authorize may grant

CREATE TABLE resource_servers (
    pool_id     TEXT NOT NULL,
    identifier  TEXT NOT NULL,             -- e.g. https://api.example.com; scopes are identifier/name
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,             -- JSON array of {"name", "description"}
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

CREATE TABLE oauth_codes (
    code_hash       TEXT PRIMARY KEY,      -- SHA-256 of the code; the code itself is never stored
    pool_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    sub             TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT,                  -- PKCE S256 challenge; NULL: none was sent (confidential clients)
    nonce           TEXT,
    scope           TEXT NOT NULL,
    resource        TEXT,                  -- RFC 8707 resource indicator
    auth_time       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,               -- redeemed; a second redemption revokes family_id
    family_id       TEXT                   -- the refresh-token family the redemption issued
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

-- What an authorization-code grant granted, kept for its refresh-token family (scope and resource of the
-- tokens a refresh mints).
CREATE TABLE oauth_grants (
    family_id   TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    resource    TEXT,
    created_at  BIGINT NOT NULL
);
