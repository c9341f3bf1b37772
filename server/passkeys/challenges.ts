import type { Kysely } from 'kysely';
import { sha256 } from '../crypto.js';
import type { ChallengePurpose, ChallengeRow, Database, NewChallenge } from '../db/schema.js';
import { AuthError } from '../errors.js';

/**
 * Stores a challenge server side, keyed by the SHA-256 of its base64url text (what the browser
 * echoes in clientDataJSON), so any instance can finish a ceremony another began.
 */
export async function storeChallenge(
  db: Kysely<Database>,
  challenge: string,
  values: Omit<NewChallenge, 'id' | 'created_at' | 'expires_at'>,
  now: Date,
  ttlSeconds: number,
): Promise<void> {
  await db
    .insertInto('webauthn_challenge')
    .values({ ...values, id: sha256(challenge), created_at: now, expires_at: new Date(now.getTime() + ttlSeconds * 1000) })
    .execute();
}

/**
 * Consumes a challenge in one statement, before any verification: of concurrent submissions of one
 * response exactly one gets the row, and a failed attempt burns the challenge too. A challenge that
 * is unknown, expired, already used or issued for another purpose is `invalid_challenge`.
 */
export async function consumeChallenge(
  db: Kysely<Database>,
  challenge: string,
  purpose: ChallengePurpose,
  now: Date,
): Promise<ChallengeRow> {
  const row = await db
    .deleteFrom('webauthn_challenge')
    .where('id', '=', sha256(challenge))
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
  if (!row || row.purpose !== purpose) throw new AuthError('invalid_challenge');
  return row;
}
