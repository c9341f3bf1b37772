import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Replaces the session secret with `hashes.next` if, and only if, the current one is still
 * `hashes.current`: the old one becomes the previous secret. Of concurrent callers presenting the
 * same secret, exactly one gets `true`; the others see the changed hash and get `false`.
 */
export async function replaceSessionSecret(
  db: Kysely<Database>,
  id: string,
  hashes: { current: Uint8Array; next: Uint8Array },
  now: Date,
): Promise<boolean> {
  const row = await db
    .updateTable('session')
    .set((eb) => ({ previous_secret_hash: eb.ref('secret_hash'), secret_hash: hashes.next, secret_rotated_at: now }))
    .where('id', '=', id)
    .where('secret_hash', '=', hashes.current)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Revokes a live session whose previous secret is `previousHash`; `true` for the one caller that
 * revoked it (concurrent replays of the same secret revoke, and are recorded, once).
 */
export async function revokeSessionByPreviousSecret(
  db: Kysely<Database>,
  id: string,
  previousHash: Uint8Array,
  now: Date,
): Promise<boolean> {
  const row = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('previous_secret_hash', '=', previousHash)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
