-- Users, passkeys, sessions and WebAuthn challenges.

CREATE TABLE app_user (
  id uuid PRIMARY KEY,
  -- The WebAuthn user handle: 32 random bytes, never derived from the username.
  webauthn_user_id bytea NOT NULL UNIQUE CHECK (octet_length(webauthn_user_id) = 32),
  username text NOT NULL CHECK (char_length(username) BETWEEN 3 AND 64),
  display_name text NOT NULL CHECK (char_length(display_name) <= 64),
  created_at timestamptz NOT NULL,
  disabled_at timestamptz,
  CONSTRAINT app_user_username_key UNIQUE (username)
);

CREATE TABLE passkey (
  credential_id bytea PRIMARY KEY CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  public_key bytea NOT NULL,
  counter bigint NOT NULL DEFAULT 0,
  transports text[] NOT NULL DEFAULT '{}',
  aaguid uuid NOT NULL,
  device_type text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up boolean NOT NULL,
  name text CHECK (char_length(name) BETWEEN 1 AND 64),
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  -- Set when an assertion arrives whose signature counter went backwards (a possible clone).
  counter_regressed_at timestamptz
);
CREATE INDEX passkey_user_id_idx ON passkey (user_id);

CREATE TABLE session (
  -- The public half of the `id.secret` token; only SHA-256 of the secret is stored.
  id text PRIMARY KEY,
  secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  passkey_id bytea REFERENCES passkey (credential_id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  -- The absolute expiry; the idle expiry is last_seen_at plus the configured idle timeout.
  expires_at timestamptz NOT NULL,
  verified_at timestamptz NOT NULL,
  revoked_at timestamptz,
  user_agent text,
  ip_address text
);
CREATE INDEX session_user_id_idx ON session (user_id);
CREATE INDEX session_expires_at_idx ON session (expires_at);

CREATE TABLE webauthn_challenge (
  -- SHA-256 of the base64url challenge the browser echoes in clientDataJSON.
  id bytea PRIMARY KEY CHECK (octet_length(id) = 32),
  purpose text NOT NULL CHECK (purpose IN ('registration', 'authentication', 'reauthentication', 'passkey_registration')),
  -- For registration: the user about to be created. For step-up and adding a passkey: the signed-in user.
  user_id uuid,
  webauthn_user_id bytea,
  username text,
  display_name text,
  session_id text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_challenge_expires_at_idx ON webauthn_challenge (expires_at);
