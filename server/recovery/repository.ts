import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Replaces a user's set of recovery codes (hashes only). Pass a transaction. */
export async function replaceRecoveryCodes(
  db: Kysely<Database>,
  userId: string,
  hashes: Uint8Array[],
  now: Date,
): Promise<void> {
  await db.deleteFrom('recovery_code').where('user_id', '=', userId).execute();
  await db
    .insertInto('recovery_code')
    .values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })))
    .execute();
}

export async function countRecoveryCodes(
  db: Kysely<Database>,
  userId: string,
): Promise<{ remaining: number; createdAt: Date | null }> {
  const row = await db
    .selectFrom('recovery_code')
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.max('created_at').as('created_at')])
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return { remaining: Number(row.n), createdAt: row.created_at === null ? null : new Date(row.created_at) };
}

/**
 * Uses up one code in one statement: of concurrent requests with the same code exactly one gets the
 * row. Returns the owner's id, or `null` when the username has no such code.
 */
export async function consumeRecoveryCode(
  db: Kysely<Database>,
  username: string,
  codeHash: Uint8Array,
): Promise<string | null> {
  const row = await db
    .deleteFrom('recovery_code')
    .where('code_hash', '=', codeHash)
    .where('user_id', '=', (eb) => eb.selectFrom('app_user').select('id').where('username', '=', username))
    .returning('user_id')
    .executeTakeFirst();
  return row?.user_id ?? null;
}
