import type { Kysely } from 'kysely';
import type { Database, SessionRow } from '../db/schema.js';

export type NewSessionRow = Omit<SessionRow, 'revoked_at'>;

export async function insertSession(db: Kysely<Database>, row: NewSessionRow): Promise<void> {
  await db.insertInto('session').values(row).execute();
}

export interface ActiveSessionRow {
  id: string;
  secret_hash: Uint8Array;
  user_id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  verified_at: Date;
  username: string;
  display_name: string;
}

/**
 * The session hot path: one indexed round trip that returns the live session and its user together,
 * or `null`. Time comes from the caller, so tests can move it.
 */
export async function findActiveSession(
  db: Kysely<Database>,
  id: string,
  now: Date,
  idleCutoff: Date,
): Promise<ActiveSessionRow | null> {
  return (
    (await db
      .selectFrom('session')
      .innerJoin('app_user', 'app_user.id', 'session.user_id')
      .select([
        'session.id',
        'session.secret_hash',
        'session.user_id',
        'session.created_at',
        'session.last_seen_at',
        'session.expires_at',
        'session.verified_at',
        'app_user.username',
        'app_user.display_name',
      ])
      .where('session.id', '=', id)
      .where('session.revoked_at', 'is', null)
      .where('session.expires_at', '>', now)
      .where('session.last_seen_at', '>', idleCutoff)
      .where('app_user.disabled_at', 'is', null)
      .executeTakeFirst()) ?? null
  );
}

export async function touchSession(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db
    .updateTable('session')
    .set({ last_seen_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where('last_seen_at', '<', now)
    .execute();
}

/** Marks a session revoked; returns whether a live session was revoked. */
export async function revokeSessionById(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
