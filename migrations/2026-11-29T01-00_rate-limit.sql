-- Rate-limit counters shared by every server instance: one fixed window per (bucket, key), updated
-- by a single atomic upsert per check. `key` is SHA-256 of the client address (IPv6 grouped by /64)
-- or of a username or credential ID, so no identifier is stored in clear.
CREATE TABLE rate_limit (
  bucket text NOT NULL CHECK (char_length(bucket) BETWEEN 1 AND 64),
  key bytea NOT NULL CHECK (octet_length(key) = 32),
  hits integer NOT NULL,
  window_start timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (bucket, key)
);
-- For the sweep, which deletes counters whose window has passed.
CREATE INDEX rate_limit_expires_at_idx ON rate_limit (expires_at);
