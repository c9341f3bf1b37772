-- The sweep deletes sessions through these indexes instead of scanning the table: revoked ones
-- through a small partial index, idle-expired ones by last_seen_at (written at most once per touch
-- interval per session, so the index costs little).
CREATE INDEX session_revoked_at_idx ON session (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX session_last_seen_at_idx ON session (last_seen_at);
