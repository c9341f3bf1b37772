-- Access tokens: the signing keys every instance shares, and session secret rotation.

-- Signing keys for access tokens. Every instance signs with and publishes the same set.
CREATE TABLE signing_key (
  -- The RFC 7638 thumbprint of the public key.
  kid text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
  alg text NOT NULL CHECK (alg IN ('ES256', 'EdDSA')),
  public_jwk jsonb NOT NULL,
  -- PKCS#8 DER, sealed with AES-256-GCM under TOKEN_KEY_ENCRYPTION_KEY when one is configured.
  private_key bytea NOT NULL,
  private_key_encryption text NOT NULL CHECK (private_key_encryption IN ('none', 'aes-256-gcm')),
  created_at timestamptz NOT NULL,
  -- Published from created_at; used for signing from activates_at (after the JWKS cache age).
  activates_at timestamptz NOT NULL,
  -- Neither published nor used from retires_at (after the longest token lifetime).
  retires_at timestamptz
);
CREATE INDEX signing_key_retires_at_idx ON signing_key (retires_at);

-- The secret before the last rotation, accepted for a short grace after secret_rotated_at; after
-- that, presenting it revokes the session (a stolen cookie replayed).
ALTER TABLE session ADD COLUMN previous_secret_hash bytea CHECK (octet_length(previous_secret_hash) = 32);
-- When the current secret was issued; NULL means at created_at.
ALTER TABLE session ADD COLUMN secret_rotated_at timestamptz;
