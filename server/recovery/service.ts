import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import type { RecoverRequest } from '../contract/wire.js';
import type { Database } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { createSession, type Session } from '../sessions/service.js';
import { requireRecentVerification } from '../sessions/step-up.js';
import { toUser, type User } from '../user.js';
import { findUserById, findUserByUsername } from '../users/repository.js';
import { generateRecoveryCode, hashRecoveryCode, normalizeRecoveryCode, recoveryCodeCount } from './codes.js';
import { consumeRecoveryCode, countRecoveryCodes, replaceRecoveryCodes } from './repository.js';

/** How long a recovery session lives at most: long enough to add a passkey, no longer. */
export const recoverySessionLifetime = 15 * 60;

/**
 * *Step-up.* Creates a new set of single-use recovery codes for the signed-in user, replacing any
 * earlier set, and returns them: this is the only time they are shown (only hashes are stored).
 */
export async function createRecoveryCodes(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  session: Session,
  context: RequestContext,
): Promise<{ codes: string[]; createdAt: Date }> {
  const { db, config, clock } = deps;
  const now = clock.now();
  requireRecentVerification(session, config, now);
  const codes = Array.from({ length: recoveryCodeCount }, generateRecoveryCode);
  await inTransaction(db, async (trx) => {
    await replaceRecoveryCodes(
      trx,
      session.userId,
      codes.map((code) => hashRecoveryCode(normalizeRecoveryCode(code)!)),
      now,
    );
    await recordAuditEvent(
      trx,
      {
        type: 'recovery_codes_created',
        userId: session.userId,
        sessionId: session.id,
        ...context,
        details: { count: codes.length },
      },
      now,
    );
  });
  return { codes, createdAt: now };
}

/** How many unused recovery codes the user has left, and when the set was made. */
export async function getRecoveryCodeStatus(
  db: Kysely<Database>,
  userId: string,
): Promise<{ remaining: number; createdAt: Date | null }> {
  return countRecoveryCodes(db, userId);
}

/**
 * Account recovery: uses up one of the user's recovery codes (atomically: a code works once, even
 * under concurrent requests) and opens a restricted recovery session, which may only add a passkey
 * and sign out. A wrong code or an unknown username is `verification_failed`, alike, and recorded;
 * a disabled account is `account_disabled` and keeps its code.
 */
export async function recoverAccount(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  input: RecoverRequest,
  context: RequestContext,
): Promise<{ user: User; token: string; session: Session; remaining: number }> {
  const { db, config, clock } = deps;
  // The username is normalised and the code's length checked by the contract's schema.
  const { username } = input;
  const code = normalizeRecoveryCode(input.code);
  const now = clock.now();

  const result = await inTransaction(db, async (trx) => {
    const userId = code === null ? null : await consumeRecoveryCode(trx, username, hashRecoveryCode(code));
    if (userId === null) return null;
    const user = await findUserById(trx, userId);
    // Thrown inside the transaction, so the code is not used up.
    if (!user || user.disabled_at !== null) throw new AuthError('account_disabled');
    const { token, session } = await createSession(
      trx,
      config.session,
      {
        userId: user.id,
        context: { ...context, passkeyId: null },
        kind: 'recovery',
        lifetime: recoverySessionLifetime,
      },
      now,
    );
    const { remaining } = await countRecoveryCodes(trx, user.id);
    await recordAuditEvent(
      trx,
      { type: 'recovery_code_used', userId: user.id, sessionId: session.id, ...context, details: { remaining } },
      now,
    );
    return { user: toUser(user), token, session, remaining };
  });
  if (result === null) {
    await recordRecoveryFailure(deps, username, context, now);
    throw new AuthError('verification_failed', 'The username or recovery code is wrong.');
  }
  return result;
}

async function recordRecoveryFailure(
  deps: Pick<Deps, 'db' | 'logger'>,
  username: string,
  context: RequestContext,
  now: Date,
): Promise<void> {
  try {
    const user = await findUserByUsername(deps.db, username);
    // Attempts on unknown usernames are not tied to anyone; they are for the rate limit to stop.
    if (!user) return;
    await recordAuditEvent(
      deps.db,
      { type: 'recovery_failed', userId: user.id, reason: 'verification_failed', ...context },
      now,
    );
  } catch (error) {
    deps.logger.error({ err: error }, 'could not record a failed recovery in the audit trail');
  }
}
