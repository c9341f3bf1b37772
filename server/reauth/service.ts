import { randomBytes } from 'node:crypto';
import type { AuthenticatorTransport } from '@simplewebauthn/server';
import { generateAuthenticationOptions, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import { toBase64url } from '../crypto.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { recordCounterUse, refusingCounterRegressions, verifyAssertion } from '../passkeys/authentication.js';
import { storeChallenge } from '../passkeys/challenges.js';
import { recordAssertionFailure } from '../passkeys/failures.js';
import { listPasskeyRowsOfUser } from '../passkeys/manage-repository.js';
import type { AuthenticationInput } from '../passkeys/validation.js';
import { trustRequestContext } from '../sessions/context-policy.js';
import { markSessionVerified } from '../sessions/repository.js';
import type { Session } from '../sessions/service.js';

/**
 * Begins a step-up: request options naming the signed-in user's own passkeys, with user verification
 * required, and a challenge bound to this user and this session.
 */
export async function startReauthentication(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  session: Session,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { db, config, clock } = deps;
  const passkeys = await listPasskeyRowsOfUser(db, session.userId);
  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    allowCredentials: passkeys.map((p) => ({
      id: toBase64url(p.credential_id),
      transports: p.transports as AuthenticatorTransport[],
    })),
    userVerification: 'required',
    challenge: randomBytes(32),
    timeout: config.challengeTtl * 1000,
  });
  await storeChallenge(
    db,
    {
      challenge: options.challenge,
      values: { purpose: 'reauthentication', user_id: session.userId, session_id: session.id },
      ttlSeconds: config.challengeTtl,
    },
    clock.now(),
  );
  return options;
}

/**
 * Finishes a step-up: a user-verified assertion by one of the caller's own passkeys, for a challenge
 * this session asked for, marks the session as verified now. No new session, no new token. A
 * passkey of another user is `verification_failed` and changes nothing (but the failure is recorded).
 */
export async function finishReauthentication(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  session: Session,
  body: AuthenticationInput,
  context: RequestContext,
): Promise<{ verifiedAt: Date }> {
  const { db, clock } = deps;
  const now = clock.now();
  const recordFailure = (error: unknown) =>
    recordAssertionFailure(deps, {
      type: 'reauthentication_failed',
      body,
      error,
      userId: session.userId,
      sessionId: session.id,
      context,
    });
  let verified;
  try {
    verified = await verifyAssertion(deps, { body, purpose: 'reauthentication', sessionId: session.id }, now);
    if (verified.owner.id !== session.userId)
      throw new AuthError('verification_failed', 'This passkey belongs to another account.');
    if (verified.challenge.session_id !== session.id) throw new AuthError('invalid_challenge');
  } catch (error) {
    await recordFailure(error);
    throw error;
  }
  const { passkey } = verified;
  const record = () =>
    inTransaction(db, async (trx) => {
      await recordCounterUse(trx, verified, now);
      if (!(await markSessionVerified(trx, session.id, now))) throw new AuthError('unauthenticated');
      // The user proved presence from this browser and network: they become the session's trusted context (README "Risk signals").
      await trustRequestContext(trx, session.id, context);
      await recordAuditEvent(
        trx,
        {
          type: 'reauthenticated',
          userId: session.userId,
          sessionId: session.id,
          passkeyId: toBase64url(passkey.credential_id),
          ...context,
        },
        now,
      );
      return { verifiedAt: now };
    });
  try {
    return await refusingCounterRegressions(deps, { verified, purpose: 'reauthentication' }, now, record);
  } catch (error) {
    if (error instanceof AuthError && error.code === 'verification_failed') {
      await recordFailure(error);
    }
    throw error;
  }
}
