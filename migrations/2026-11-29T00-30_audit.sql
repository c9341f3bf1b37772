-- The audit trail: one row per security-relevant change, written in the transaction of the change.
-- No secrets, tokens or challenges in it.
CREATE TABLE audit_event (
  id uuid PRIMARY KEY,
  -- Kept when the user is deleted, so the deletion itself stays on record.
  user_id uuid,
  type text NOT NULL,
  -- Who did it: 'user', 'admin' or 'system'.
  actor text NOT NULL DEFAULT 'user',
  -- For failures: the error code.
  reason text,
  session_id text,
  passkey_id text,
  ip_address text,
  user_agent text,
  -- 'low', 'medium' or 'high' where a risk was assessed.
  risk text,
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL
);
CREATE INDEX audit_event_user_idx ON audit_event (user_id, created_at DESC, id DESC);
