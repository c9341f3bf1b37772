-- One row that serialises the creation of signing keys across instances (SELECT ... FOR UPDATE),
-- instead of a lock function of PostgreSQL: row locks work the same on CockroachDB and YugabyteDB and
-- through a transaction-mode pooler.
CREATE TABLE signing_key_lock (
  id boolean PRIMARY KEY DEFAULT true CHECK (id)
);
INSERT INTO signing_key_lock (id) VALUES (true) ON CONFLICT DO NOTHING;
