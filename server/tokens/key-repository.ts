import { type Kysely, sql } from 'kysely';
import type { Database, SigningKeyRow } from '../db/schema.js';

export type NewSigningKey = Omit<SigningKeyRow, 'public_jwk'> & { public_jwk: Record<string, unknown> };

/** Keys not yet retired at `now` (published ones, including those that do not sign yet), oldest first. */
export async function listPublishedSigningKeys(db: Kysely<Database>, now: Date): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_key')
    .selectAll()
    .where((eb) => eb.or([eb('retires_at', 'is', null), eb('retires_at', '>', now)]))
    .orderBy('activates_at')
    .orderBy('kid')
    .execute();
}

export async function insertSigningKey(db: Kysely<Database>, key: NewSigningKey): Promise<void> {
  await db
    .insertInto('signing_key')
    .values({ ...key, public_jwk: JSON.stringify(key.public_jwk) })
    .execute();
}

/** Schedules the retirement of every key that has none yet, except `exceptKid`. */
export async function scheduleRetirement(db: Kysely<Database>, exceptKid: string, retiresAt: Date): Promise<string[]> {
  const rows = await db
    .updateTable('signing_key')
    .set({ retires_at: retiresAt })
    .where('kid', '!=', exceptKid)
    .where('retires_at', 'is', null)
    .returning('kid')
    .execute();
  return rows.map((row) => row.kid);
}

/** Deletes keys retired before `cutoff` (no token they signed can still be valid). */
export async function deleteRetiredSigningKeys(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('signing_key').where('retires_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Serialises the creation of signing keys across instances for the rest of the transaction `trx`
 * (two instances starting together create one key, two rotations at once create one new key).
 */
export async function lockSigningKeys(trx: Kysely<Database>): Promise<void> {
  // A row lock on the one-row table signing_key_lock: the same on every PostgreSQL-compatible database.
  await sql`select id from signing_key_lock for update`.execute(trx);
}

/** Keys whose private part is stored unsealed. */
export async function listUnsealedSigningKeys(db: Kysely<Database>): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_key').selectAll().where('private_key_encryption', '=', 'none').execute();
}

/** Replaces an unsealed private key by its sealed form; false if it was sealed meanwhile. */
export async function storeSealedPrivateKey(db: Kysely<Database>, kid: string, sealed: Uint8Array): Promise<boolean> {
  const row = await db
    .updateTable('signing_key')
    .set({ private_key: sealed, private_key_encryption: 'aes-256-gcm' })
    .where('kid', '=', kid)
    .where('private_key_encryption', '=', 'none')
    .returning('kid')
    .executeTakeFirst();
  return row !== undefined;
}
