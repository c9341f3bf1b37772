-- Device Bound Session Credentials (server/dbsc/, docs/dbsc.md). A session with a public key is
-- bound: every request also needs the short-lived cookie whose hash is kept here, and only a
-- refresh signed by the key's private half issues the next one. The pending challenge (registration
-- or refresh) and the registration's authorization value live on the row too, single-use.
ALTER TABLE session
  ADD COLUMN dbsc_public_key text,
  ADD COLUMN dbsc_challenge text,
  ADD COLUMN dbsc_challenge_expires_at timestamptz,
  ADD COLUMN dbsc_authorization text,
  ADD COLUMN dbsc_cookie_hash bytea,
  ADD COLUMN dbsc_cookie_expires_at timestamptz;
