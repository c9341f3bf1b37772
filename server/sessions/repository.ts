import type { Kysely } from 'kysely';
import type { Database, SessionKind, SessionRow } from '../db/schema.js';

export type NewSessionRow = Omit<SessionRow, 'revoked_at' | 'kind' | 'previous_secret_hash' | 'secret_rotated_at'> & { kind?: SessionKind };

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
  kind: SessionKind;
  previous_secret_hash: Uint8Array | null;
  secret_rotated_at: Date | null;
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
        'session.kind',
        'session.previous_secret_hash',
        'session.secret_rotated_at',
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

/** Records a fresh user verification (step-up) on a live session; `false` when it is revoked. */
export async function markSessionVerified(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('session').set({ verified_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** A user's live sessions (not revoked, not expired, seen within the idle timeout), newest first. */
export async function listLiveSessionsOfUser(db: Kysely<Database>, userId: string, now: Date, idleCutoff: Date): Promise<SessionRow[]> {
  return db
    .selectFrom('session')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('last_seen_at', '>', idleCutoff)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
}

/**
 * Revokes one live session of one user; `false` (nothing changed) when the session is not that
 * user's, or not live, so another user's session id looks exactly like an unknown one.
 */
export async function revokeSessionOfUser(db: Kysely<Database>, userId: string, id: string, now: Date, idleCutoff: Date): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('last_seen_at', '>', idleCutoff)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Revokes every live session of a user but one; returns the revoked ids. */
export async function revokeSessionsOfUserExcept(db: Kysely<Database>, userId: string, keepId: string, now: Date, idleCutoff: Date): Promise<string[]> {
  const rows = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('id', '!=', keepId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('last_seen_at', '>', idleCutoff)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Revokes every not-yet-revoked session a passkey created; returns the revoked ids. */
export async function revokeSessionsOfPasskey(db: Kysely<Database>, credentialId: Uint8Array, now: Date): Promise<string[]> {
  const rows = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('passkey_id', '=', credentialId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}
