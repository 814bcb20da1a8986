-- gatehouse schema version 3: which instance runs a session's agent process (issue 8, cross-instance forwarding).
-- The internal URL of that instance's cluster listener; NULL: none recorded (a fixed upstream, or a single instance).
ALTER TABLE session_bindings ADD COLUMN instance_url TEXT;
