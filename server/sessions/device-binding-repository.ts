import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/*
 * The device-binding columns of the `session` row (DBSC, server/dbsc/): every statement on them is
 * here, under sessions/, like every other statement on the `session` table.
 */

export interface DeviceBinding {
  publicKey: string | null;
  cookieHash: Uint8Array | null;
  cookieExpiresAt: Date | null;
}

/** The binding state of a session (any session, live or not), or `null` when there is no such row. */
export async function findDeviceBinding(db: Kysely<Database>, sessionId: string): Promise<DeviceBinding | null> {
  const row = await db
    .selectFrom('session')
    .select(['dbsc_public_key', 'dbsc_cookie_hash', 'dbsc_cookie_expires_at'])
    .where('id', '=', sessionId)
    .executeTakeFirst();
  return row
    ? { publicKey: row.dbsc_public_key, cookieHash: row.dbsc_cookie_hash, cookieExpiresAt: row.dbsc_cookie_expires_at }
    : null;
}

/** Remembers a pending challenge (and, for a registration, its authorization value) on a live session. */
export async function storeDbscChallenge(
  db: Kysely<Database>,
  sessionId: string,
  values: { challenge: string; authorization: string | null; expiresAt: Date },
): Promise<void> {
  await db
    .updateTable('session')
    .set({
      dbsc_challenge: values.challenge,
      dbsc_challenge_expires_at: values.expiresAt,
      dbsc_authorization: values.authorization,
    })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

/**
 * Binds an unbound live session to `publicKey` in one statement that also consumes the registration
 * challenge and checks its authorization value, and stores the first bound cookie; `false` when the
 * challenge is not this session's pending one (or expired, or already used), or the session is bound.
 */
export async function bindSession(
  db: Kysely<Database>,
  sessionId: string,
  values: {
    challenge: string;
    authorization: string;
    publicKey: string;
    cookieHash: Uint8Array;
    cookieExpiresAt: Date;
    now: Date;
  },
): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({
      dbsc_public_key: values.publicKey,
      dbsc_cookie_hash: values.cookieHash,
      dbsc_cookie_expires_at: values.cookieExpiresAt,
      dbsc_challenge: null,
      dbsc_challenge_expires_at: null,
      dbsc_authorization: null,
    })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where('dbsc_public_key', 'is', null)
    .where('dbsc_challenge', '=', values.challenge)
    .where('dbsc_authorization', '=', values.authorization)
    .where('dbsc_challenge_expires_at', '>', values.now)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Consumes a bound session's pending refresh challenge and stores the next bound cookie, in one
 * statement; `false` when `challenge` is not the pending one (or expired, or used).
 */
export async function rotateBoundCookie(
  db: Kysely<Database>,
  sessionId: string,
  values: { challenge: string; cookieHash: Uint8Array; cookieExpiresAt: Date; now: Date },
): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({
      dbsc_cookie_hash: values.cookieHash,
      dbsc_cookie_expires_at: values.cookieExpiresAt,
      dbsc_challenge: null,
      dbsc_challenge_expires_at: null,
    })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where('dbsc_public_key', 'is not', null)
    .where('dbsc_challenge', '=', values.challenge)
    .where('dbsc_challenge_expires_at', '>', values.now)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Burns a pending challenge (after a refresh proof that did not verify). */
export async function clearDbscChallenge(db: Kysely<Database>, sessionId: string): Promise<void> {
  await db
    .updateTable('session')
    .set({ dbsc_challenge: null, dbsc_challenge_expires_at: null })
    .where('id', '=', sessionId)
    .execute();
}
