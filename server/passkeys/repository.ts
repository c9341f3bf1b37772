import type { Kysely } from 'kysely';
import type { AppUserRow, Database, PasskeyRow } from '../db/schema.js';

export type NewPasskeyRow = Omit<PasskeyRow, 'last_used_at' | 'counter_regressed_at' | 'name' | 'counter'> & {
  counter: number;
};

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

/** The user id of the owner of a credential; `null` when unknown. */
export async function findPasskeyOwnerId(db: Kysely<Database>, credentialId: Uint8Array): Promise<string | null> {
  return (
    (await db.selectFrom('passkey').select('user_id').where('credential_id', '=', credentialId).executeTakeFirst())
      ?.user_id ?? null
  );
}

/** Records a successful use: the new counter (never lowered), backup state and time. */
/**
 * Records a sign-in or step-up with a passkey, as a compare-and-set of its signature counter in one
 * statement: the counter must move forward (0 stays 0 for authenticators that do not count). Of two
 * assertions with one counter value sent at once, only one advances it; `false` for the other (a
 * regression: a cloned authenticator), and nothing is written then.
 */
export async function recordPasskeyUse(
  db: Kysely<Database>,
  credentialId: Uint8Array,
  use: { counter: number; backedUp: boolean; now: Date },
): Promise<boolean> {
  const row = await db
    .updateTable('passkey')
    .set({ counter: use.counter, backed_up: use.backedUp, last_used_at: use.now })
    .where('credential_id', '=', credentialId)
    .where('counter', use.counter === 0 ? '=' : '<', use.counter)
    .returning('credential_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function recordCounterRegression(
  db: Kysely<Database>,
  credentialId: Uint8Array,
  now: Date,
): Promise<void> {
  await db
    .updateTable('passkey')
    .set({ counter_regressed_at: now })
    .where('credential_id', '=', credentialId)
    .execute();
}

/** The passkeys of the user named `username` (normalised), oldest first, with the owner's id; none for an unknown name. */
export async function findPasskeysOfUsername(
  db: Kysely<Database>,
  username: string,
): Promise<{ user_id: string; credential_id: Uint8Array; transports: string[] }[]> {
  return db
    .selectFrom('app_user')
    .innerJoin('passkey', 'passkey.user_id', 'app_user.id')
    .select(['app_user.id as user_id', 'passkey.credential_id', 'passkey.transports'])
    .where('app_user.username', '=', username)
    .orderBy('passkey.created_at')
    .execute();
}
