import type { Kysely } from 'kysely';
import type { AppUserRow, Database } from '../db/schema.js';

export async function findUserByUsername(db: Kysely<Database>, username: string): Promise<AppUserRow | null> {
  return (await db.selectFrom('app_user').selectAll().where('username', '=', username).executeTakeFirst()) ?? null;
}

export async function findUserById(db: Kysely<Database>, id: string): Promise<AppUserRow | null> {
  return (await db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
}

/** Inserts a user; `null` when the username is taken (no exception, so the caller's transaction stays usable). */
export async function insertUser(
  db: Kysely<Database>,
  user: Pick<AppUserRow, 'id' | 'webauthn_user_id' | 'username' | 'display_name' | 'created_at'>,
): Promise<AppUserRow | null> {
  return (
    (await db
      .insertInto('app_user')
      .values(user)
      .onConflict((oc) => oc.column('username').doNothing())
      .returningAll()
      .executeTakeFirst()) ?? null
  );
}

/**
 * Locks the user's row for the rest of the transaction and returns it, `null` for an unknown user:
 * concurrent changes of one user (a disable, a passkey deletion) run one after the other.
 */
export async function lockUser(db: Kysely<Database>, id: string): Promise<AppUserRow | null> {
  return (await db.selectFrom('app_user').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()) ?? null;
}

/** Disables (a time) or enables (`null`) a user. */
export async function setUserDisabledAt(db: Kysely<Database>, id: string, disabledAt: Date | null): Promise<void> {
  await db.updateTable('app_user').set({ disabled_at: disabledAt }).where('id', '=', id).execute();
}

export async function setDisplayName(db: Kysely<Database>, id: string, displayName: string): Promise<AppUserRow> {
  return db
    .updateTable('app_user')
    .set({ display_name: displayName })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes a user (passkeys and sessions go with them, ON DELETE CASCADE); `false` for an unknown user. */
export async function deleteUserRow(db: Kysely<Database>, id: string): Promise<boolean> {
  return (await db.deleteFrom('app_user').where('id', '=', id).returning('id').executeTakeFirst()) !== undefined;
}
