import type { Kysely } from 'kysely';
import type { Database, PasskeyRow } from '../db/schema.js';

/** A user's passkeys, oldest first. */
export async function listPasskeyRowsOfUser(db: Kysely<Database>, userId: string): Promise<PasskeyRow[]> {
  return db
    .selectFrom('passkey')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('credential_id')
    .execute();
}

/** One passkey of one user; `null` when it does not exist or is someone else's. */
export async function findPasskeyOfUser(
  db: Kysely<Database>,
  userId: string,
  credentialId: Uint8Array,
): Promise<PasskeyRow | null> {
  return (
    (await db
      .selectFrom('passkey')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .where('user_id', '=', userId)
      .executeTakeFirst()) ?? null
  );
}

/** Renames one passkey of one user (`null` clears the name); `null` when it is not theirs. */
export async function renamePasskeyOfUser(
  db: Kysely<Database>,
  userId: string,
  credentialId: Uint8Array,
  name: string | null,
): Promise<PasskeyRow | null> {
  return (
    (await db
      .updateTable('passkey')
      .set({ name })
      .where('credential_id', '=', credentialId)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst()) ?? null
  );
}

/** Deletes one passkey of one user; `false` when it is not theirs. */
export async function deletePasskeyOfUser(
  db: Kysely<Database>,
  userId: string,
  credentialId: Uint8Array,
): Promise<boolean> {
  const row = await db
    .deleteFrom('passkey')
    .where('credential_id', '=', credentialId)
    .where('user_id', '=', userId)
    .returning('credential_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function countPasskeysOfUser(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('passkey')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
