-- Account lifecycle: restricted recovery sessions and single-use recovery codes.

-- 'full' for sessions from registration or login; 'recovery' for the restricted session that a
-- recovery code buys, which may only add a passkey and sign out.
ALTER TABLE session ADD COLUMN kind text NOT NULL DEFAULT 'full' CHECK (kind IN ('full', 'recovery'));

-- One row per unused recovery code. Only SHA-256 of the code is stored: the codes carry 80 random
-- bits, so a plain hash is enough (no password-style stretching needed). Using a code deletes its row.
CREATE TABLE recovery_code (
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, code_hash)
);

-- Listing a user's sessions, and revoking those a passkey created.
CREATE INDEX session_passkey_id_idx ON session (passkey_id);
