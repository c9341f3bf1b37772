import { sql, type Kysely } from 'kysely';
import type { AppUserRow, Database, PasskeyRow } from '../db/schema.js';

export type NewPasskeyRow = Omit<PasskeyRow, 'last_used_at' | 'counter_regressed_at' | 'name' | 'counter'> & { counter: number };

/** Inserts a passkey; `null` when the credential ID is already registered (to anyone). */
export async function insertPasskey(db: Kysely<Database>, row: NewPasskeyRow): Promise<PasskeyRow | null> {
  return (
    (await db
      .insertInto('passkey')
      .values(row)
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .returningAll()
      .executeTakeFirst()) ?? null
  );
}

export interface PasskeyWithOwner {
  passkey: PasskeyRow;
  owner: AppUserRow;
}

export async function findPasskeyWithOwner(db: Kysely<Database>, credentialId: Uint8Array): Promise<PasskeyWithOwner | null> {
  const passkey = await db.selectFrom('passkey').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
  if (!passkey) return null;
  const owner = await db.selectFrom('app_user').selectAll().where('id', '=', passkey.user_id).executeTakeFirst();
  return owner ? { passkey, owner } : null;
}

/** Records a successful use: the new counter (never lowered), backup state and time. */
export async function recordPasskeyUse(
  db: Kysely<Database>,
  credentialId: Uint8Array,
  use: { counter: number; backedUp: boolean; now: Date },
): Promise<void> {
  await db
    .updateTable('passkey')
    .set({
      counter: sql<number>`greatest(counter, ${use.counter})`,
      backed_up: use.backedUp,
      last_used_at: use.now,
    })
    .where('credential_id', '=', credentialId)
    .execute();
}

export async function recordCounterRegression(db: Kysely<Database>, credentialId: Uint8Array, now: Date): Promise<void> {
  await db.updateTable('passkey').set({ counter_regressed_at: now }).where('credential_id', '=', credentialId).execute();
}
