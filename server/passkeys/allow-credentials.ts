import { createHmac } from 'node:crypto';
import type { AuthenticatorTransport } from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import { toBase64url } from '../crypto.js';
import type { Database } from '../db/schema.js';
import { findPasskeysOfUsername } from './repository.js';

/** One `allowCredentials` entry as `generateAuthenticationOptions` takes it. */
export interface AllowedCredential {
  id: string;
  transports: AuthenticatorTransport[];
}

/**
 * Shapes of real credential IDs (length in bytes, transports) of common authenticators: a fake list
 * draws from these, so its entries look like real ones. Platform passkey managers use 16 or 20
 * bytes, Windows Hello 32, security keys with non-discoverable credentials 64 or more.
 */
const shapes: readonly { length: number; transports: AuthenticatorTransport[] }[] = [
  { length: 16, transports: ['hybrid', 'internal'] },
  { length: 16, transports: ['internal', 'hybrid'] },
  { length: 20, transports: ['hybrid', 'internal'] },
  { length: 32, transports: ['internal'] },
  { length: 64, transports: ['nfc', 'usb'] },
  { length: 48, transports: ['usb'] },
];

/**
 * The credentials `POST /auth/login/options` lists for a username when `LOGIN_ALLOW_CREDENTIALS=on`:
 * the user's own, or, for a name nobody has, a fake list that is stable for that name (derived with
 * HMAC-SHA256 under the server secret, so it is the same on every instance and every request, and
 * nobody without the secret can tell it from a real one by recomputing it). One query answers both
 * cases, so the time taken does not tell them apart either.
 */
export async function credentialsForUsername(
  db: Kysely<Database>,
  username: string,
  secret: string,
): Promise<{ userId: string | null; credentials: AllowedCredential[] }> {
  const rows = await findPasskeysOfUsername(db, username);
  const first = rows[0];
  if (first === undefined) return { userId: null, credentials: fakeCredentials(username, secret) };
  return {
    userId: first.user_id,
    credentials: rows.map((row) => ({
      id: toBase64url(row.credential_id),
      transports: row.transports as AuthenticatorTransport[],
    })),
  };
}

/**
 * A stable, plausible list for an unknown (normalised) username: 1 credential for 60% of names, 2
 * for 30%, 3 for 10% (most people have one or two), each with a shape of {@link shapes}.
 */
export function fakeCredentials(username: string, secret: string): AllowedCredential[] {
  const derive = (label: string, length: number) => {
    const out = Buffer.alloc(length);
    for (let block = 0, offset = 0; offset < length; block++) {
      offset += createHmac('sha256', secret)
        .update(`allow-credentials\u0000${label}\u0000${block}\u0000${username}`)
        .digest()
        .copy(out, offset);
    }
    return out;
  };
  const seed = derive('seed', 32);
  const roll = seed[0]! % 10;
  const count = roll < 6 ? 1 : roll < 9 ? 2 : 3;
  return Array.from({ length: count }, (_, index) => {
    const shape = shapes[seed[1 + index]! % shapes.length]!;
    return { id: toBase64url(derive(`id-${index}`, shape.length)), transports: [...shape.transports] };
  });
}
