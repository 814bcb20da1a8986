-- gatehouse schema version 6: OAuth clients nobody pre-registered — dynamically registered clients (marked, and
-- deleted once unused for long), when a client's secret was created (for the rotation audit), and the initial
-- access tokens of `dynamic_client_registration = "token"`. Never edit a released migration: add a new file.
ALTER TABLE app_clients ADD COLUMN dynamic INTEGER NOT NULL DEFAULT 0;    -- registered at /oauth2/register (third party)
ALTER TABLE app_clients ADD COLUMN last_used_at INTEGER;                  -- last token issued (hourly resolution)
ALTER TABLE app_clients ADD COLUMN secret_created_at INTEGER;             -- NULL: unknown (older than this column)

CREATE TABLE registration_tokens (
    token_hash  TEXT PRIMARY KEY,          -- SHA-256 of the initial access token; the token itself is never stored
    pool_id     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
