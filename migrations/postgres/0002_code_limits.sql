-- gatehouse schema version 2 (PostgreSQL): per-user limits of the code flows, and a changed e-mail kept pending
-- until verified. Never edit a released migration: add a new file.
ALTER TABLE users ADD COLUMN pending_email TEXT;            -- a new address awaiting VerifyUserAttribute; the old one stays active

CREATE TABLE code_limits (
    pool_id       TEXT NOT NULL,
    username      TEXT NOT NULL,
    window_start  BIGINT NOT NULL,           -- start of the counting window
    issued        BIGINT NOT NULL,           -- codes sent in the window
    failures      BIGINT NOT NULL,           -- wrong codes in the window, across re-issues
    locked_until  BIGINT NOT NULL,           -- code flows refused until then
    PRIMARY KEY (pool_id, username)
);
