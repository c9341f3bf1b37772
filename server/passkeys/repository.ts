import type { Kysely } from 'kysely';
import { fixedQuery } from '../db/fixed-query.js';
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

// On every sign-in: fixed SQL, a named prepared statement on PostgreSQL (server/db/fixed-query.ts).
// A counter of 0 stays 0 (an authenticator that does not count); any other must move forward.
const recordPasskeyUseSql = `/* prepared:record_passkey_use_v1 */
update passkey set counter = $2, backed_up = $3, last_used_at = $4
where credential_id = $1 and (case when $2::bigint = 0 then counter = 0 else counter < $2::bigint end)
returning credential_id`;

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
  const rows = await fixedQuery(db, recordPasskeyUseSql, [
    credentialId,
    use.counter,
    use.backedUp,
    use.now.toISOString(),
  ]);
  return rows.length > 0;
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
