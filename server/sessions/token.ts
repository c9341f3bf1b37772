import { bytesEqual, randomBase64url, sha256 } from '../crypto.js';

/**
 * The session token `id.secret` (lucia's shape): the id is 120 random bits and names the row, the
 * secret is 256 random bits of which only SHA-256 is stored, so a leaked table yields no usable token.
 * Both halves are base64url, 20 and 43 characters.
 */
const tokenPattern = /^([A-Za-z0-9_-]{20})\.([A-Za-z0-9_-]{43})$/;

/** A fresh session id (the public half of a token). */
export function newSessionId(): string {
  return randomBase64url(15);
}

/** A fresh session secret (the private half of a token). */
export function newSessionSecret(): string {
  return randomBase64url(32);
}

/** The token of a session id and secret. */
export function formatToken(id: string, secret: string): string {
  return `${id}.${secret}`;
}

/** The id and secret of a token, or `null` when the text is not of the token's shape. */
export function parseToken(token: string): { id: string; secret: string } | null {
  const match = tokenPattern.exec(token);
  return match === null ? null : { id: match[1] as string, secret: match[2] as string };
}

/** What is stored of a secret: its SHA-256. */
export function hashSecret(secret: string): Buffer {
  return sha256(secret);
}

/**
 * Whether a presented secret's hash equals a stored hash. This comparison must stay constant-time
 * (`timingSafeEqual` under `bytesEqual`, never `===` or `Buffer.equals`): the session id is public
 * (it shows in `GET /auth/sessions` and in logs), so an early-exit comparison would let anyone who
 * can time requests learn the stored hash byte by byte and then search for a matching secret offline
 * with a known target. Hashing first also makes the lengths equal whatever is presented.
 */
export function secretHashMatches(presentedHash: Uint8Array, storedHash: Uint8Array): boolean {
  return bytesEqual(presentedHash, storedHash);
}
