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
