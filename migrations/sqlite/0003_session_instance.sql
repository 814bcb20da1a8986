-- gatehouse schema version 3: which instance runs a session's agent process (several instances on one database).
-- Never edit a released migration: add a new file.
ALTER TABLE session_bindings ADD COLUMN instance TEXT;      -- NULL: no process recorded
