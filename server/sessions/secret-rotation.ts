import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/repository.js';
import type { Database } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { replaceSessionSecret, revokeSessionByPreviousSecret } from './secret-rotation-repository.js';
import { formatToken, hashSecret, newSessionSecret, parseToken } from './token.js';

/**
 * Session secret rotation (README "Access tokens"). The cookie is the refresh credential of the access
 * tokens, so its secret is replaced every so often when a token is minted; the secret it replaces
 * stays valid for a short grace (tabs with requests in flight), and presenting it after the grace
 * means two parties hold the session: a stolen cookie. The whole session is then revoked, which
 * locks out both the thief and the user, who signs in again.
 */

/** Which of a session's secrets a token carried, and when the current one was issued. */
export interface SessionSecretState {
  /** `true` for the current secret, `false` for the previous one within its grace. */
  current: boolean;
  /** When the current secret was issued (the session's creation, or its last rotation). */
  issuedAt: Date;
}

/**
 * Rotates the secret of the session of `sessionToken` if the token carries the current secret
 * (`state`) and it is older than `rotationAge` seconds. Returns the new token `id.secret`, or `null`
 * when no rotation is due or another request rotated it first (that request's response carries the
 * successor; this one keeps working with the old secret during the grace, so there is never a
 * second successor).
 */
export async function rotateSessionSecretIfDue(
  db: Kysely<Database>,
  input: { sessionToken: string; state: SessionSecretState; rotationAge: number },
  now: Date,
): Promise<string | null> {
  const { sessionToken, state, rotationAge } = input;
  if (!state.current || now.getTime() - state.issuedAt.getTime() < rotationAge * 1000) return null;
  const parsed = parseToken(sessionToken);
  if (parsed === null) return null;
  const secret = newSessionSecret();
  const hashes = { current: hashSecret(parsed.secret), next: hashSecret(secret) };
  const rotated = await replaceSessionSecret(db, parsed.id, hashes, now);
  return rotated ? formatToken(parsed.id, secret) : null;
}

/**
 * A retired secret came back after its grace: revokes the session and records
 * `token_reuse_detected`, together, once however many replays arrive at the same time.
 */
export async function revokeSessionForSecretReuse(
  db: Kysely<Database>,
  session: { id: string; userId: string },
  previousHash: Uint8Array,
  now: Date,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    if (!(await revokeSessionByPreviousSecret(trx, session.id, previousHash, now))) return;
    await recordAuditEvent(
      trx,
      {
        type: 'token_reuse_detected',
        userId: session.userId,
        sessionId: session.id,
        actor: 'system',
        reason: 'retired_session_secret',
        risk: 'high',
      },
      now,
    );
  });
}
