-- Challenges (minutes) and rate-limit counters (a window) are ephemeral: writing them to the WAL
-- made every ceremony step wait for a disk flush. UNLOGGED tables skip the WAL. After a database
-- crash they come back empty (ceremonies in flight start again, counters restart) and they are not
-- copied to streaming replicas, so after a failover the same holds. Sessions, users, passkeys and
-- the audit trail stay fully durable.
ALTER TABLE webauthn_challenge SET UNLOGGED;
ALTER TABLE rate_limit SET UNLOGGED;
