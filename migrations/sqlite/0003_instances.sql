-- gatehouse schema version 3: which instance runs a session's agent process, and sign-ins in progress (several
-- instances on one database).
-- Never edit a released migration: add a new file.
ALTER TABLE session_bindings ADD COLUMN instance TEXT;      -- NULL: no process recorded

-- Sign-ins in progress (an SRP challenge, a NEW_PASSWORD_REQUIRED session), for stores shared by several
-- instances; the embedded single-instance setup keeps them in memory and leaves this table empty.
CREATE TABLE pending_auths (
    key_hash    TEXT PRIMARY KEY,          -- SHA-256 of the SECRET_BLOCK or Session handed to the client
    payload     TEXT NOT NULL,             -- JSON; may hold an SRP ephemeral secret (short-lived, single use)
    expires_at  INTEGER NOT NULL
);
CREATE INDEX pending_auths_by_expiry ON pending_auths (expires_at);
