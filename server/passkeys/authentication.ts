import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  type PublicKeyCredentialRequestOptionsJSON,
  verifyAuthenticationResponse,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/repository.js';
import type { SignInNotice } from '../contract/wire.js';
import { bytesEqual, fromBase64url, toBase64url } from '../crypto.js';
import type { ChallengeRow, Database } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { ceremonyOrigins } from '../platform/origins.js';
import { type SignInAssessment, signInRefusal } from '../risk/sign-in.js';
import { createSession, enforceSessionLimit, type Session, type SessionContext } from '../sessions/service.js';
import { toUser, type User } from '../user.js';
import { normalizeUsername } from '../username.js';
import { type AllowedCredential, credentialsForUsername } from './allow-credentials.js';
import { consumeChallengeWithPasskey, storeChallenge } from './challenges.js';
import { recordAssertionFailure } from './failures.js';
import { type PasskeyWithOwner, recordCounterRegression, recordPasskeyUse } from './repository.js';
import { assessSignIn } from './sign-in-risk.js';
import { type AuthenticationInput, parseAuthenticationResponse } from './validation.js';

/**
 * Begins a sign-in: request options with an empty `allowCredentials` (every passkey here is
 * discoverable), so the answer is the same whoever asks and reveals no account. With
 * `LOGIN_ALLOW_CREDENTIALS=on` and a username (an opt-in addition to the contract, for security keys
 * with non-discoverable credentials), `allowCredentials` lists that user's credentials, and the
 * challenge is bound to the user; for a name nobody has, a fake list that is stable for that name
 * (server/passkeys/allow-credentials.ts).
 */
export async function startAuthentication(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  input: { username?: unknown } = {},
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { db, config, clock } = deps;
  let allowCredentials: AllowedCredential[] = [];
  let userId: string | null = null;
  if (config.login.allowCredentials && config.login.fakeCredentialSecret !== null && input.username !== undefined) {
    ({ userId, credentials: allowCredentials } = await credentialsForUsername(
      db,
      normalizeUsername(input.username),
      config.login.fakeCredentialSecret,
    ));
  }
  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    allowCredentials,
    userVerification: config.userVerification,
    challenge: randomBytes(32),
    timeout: config.challengeTtl * 1000,
  });
  await storeChallenge(
    db,
    {
      challenge: options.challenge,
      values: { purpose: 'authentication', user_id: userId },
      ttlSeconds: config.challengeTtl,
    },
    clock.now(),
  );
  return options;
}

/**
 * Verifies an assertion for a challenge of the given purpose and returns the passkey and its owner.
 * The challenge is consumed first (so concurrent copies of one assertion get one result, and a
 * failed attempt burns it); the credential is looked up by ID; the user handle must name the
 * credential's owner; the signature counter must move forward (compare-and-set; 0 stays 0 for
 * authenticators that do not count), else it is recorded on the passkey as a regression and refused.
 */
export async function verifyAssertion(
  deps: Pick<Deps, 'db' | 'config' | 'logger'>,
  input: {
    body: AuthenticationInput;
    purpose: 'authentication' | 'reauthentication';
    /** For a step-up: the session that must have asked for the challenge (else `invalid_challenge`, whoever signed it). */
    sessionId?: string;
  },
  now: Date,
): Promise<PasskeyWithOwner & { counter: number; backedUp: boolean; challenge: ChallengeRow }> {
  const { db, config, logger } = deps;
  const { body, purpose, sessionId } = input;
  const { response, challenge, crossOrigin, credentialId, userHandle } = parseAuthenticationResponse(body);
  // One round trip: the challenge consumed (whatever follows) and the passkey looked up.
  const { challenge: pending, found } = await consumeChallengeWithPasskey(
    db,
    { challenge, purpose, credentialId },
    now,
  );
  if (sessionId !== undefined && pending.session_id !== sessionId) throw new AuthError('invalid_challenge');
  // This server is never embedded in another site's frame; the library alone would accept it.
  if (crossOrigin) throw new AuthError('verification_failed', 'The ceremony ran in a cross-origin frame.');

  if (!found) throw new AuthError('unknown_credential');
  const { passkey, owner } = found;
  if (pending.user_id !== null && pending.user_id !== owner.id) {
    throw new AuthError('verification_failed', 'This passkey belongs to another account.');
  }
  const handle = userHandle === null ? null : fromBase64url(userHandle);
  // A non-discoverable credential may answer without a user handle; only a challenge issued for its
  // owner's username (LOGIN_ALLOW_CREDENTIALS) lets it through, checked above.
  const handleOptional = purpose === 'reauthentication' || pending.user_id !== null;
  if (!handleOptional && handle === null)
    throw new AuthError('verification_failed', 'The user handle does not match the passkey.');
  if (purpose === 'authentication' && handle !== null && !bytesEqual(handle, owner.webauthn_user_id)) {
    throw new AuthError('verification_failed', 'The user handle does not match the passkey.');
  }
  if (purpose === 'reauthentication' && handle !== null && !bytesEqual(handle, owner.webauthn_user_id)) {
    throw new AuthError('verification_failed', 'The user handle does not match the passkey.');
  }

  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: ceremonyOrigins(config),
      expectedRPID: config.rpId,
      // The counter is checked below, so that a regression can be recorded rather than only refused.
      credential: {
        id: toBase64url(passkey.credential_id),
        publicKey: new Uint8Array(passkey.public_key),
        counter: 0,
        transports: passkey.transports,
      },
      requireUserVerification: purpose === 'reauthentication' || config.userVerification === 'required',
    });
  } catch (error) {
    logger.info({ err: error, userId: owner.id }, 'assertion rejected');
    throw new AuthError('verification_failed', undefined, { cause: error });
  }
  if (!verification.verified) throw new AuthError('verification_failed');

  const { newCounter, credentialBackedUp } = verification.authenticationInfo;
  // The counter is compared and set in the database by the caller's write (recordPasskeyUse), in the
  // same transaction as the session or the verification it records: see recordCounterUse.
  return { passkey, owner, counter: newCounter, backedUp: credentialBackedUp, challenge: pending };
}

/** Thrown inside a write when the passkey's counter did not move forward; see {@link recordCounterUse}. */
class CounterRegression extends Error {}

/**
 * Records the passkey's use in `trx` with a compare-and-set of its signature counter (not on the
 * value read before: of two assertions with one counter value sent at once, only one advances it).
 * When it does not move forward, throws so that the caller's transaction rolls back; run the
 * transaction through {@link refusingCounterRegressions}, which then records the regression.
 */
export async function recordCounterUse(
  trx: Kysely<Database>,
  verified: { passkey: PasskeyWithOwner['passkey']; counter: number; backedUp: boolean },
  now: Date,
): Promise<void> {
  const { passkey, counter, backedUp } = verified;
  if (!(await recordPasskeyUse(trx, passkey.credential_id, { counter, backedUp, now }))) throw new CounterRegression();
}

/**
 * Runs a write that calls {@link recordCounterUse}; when the counter went backwards (or another
 * request with the same counter won), records the regression on the passkey and in the audit trail
 * in a transaction of its own, and refuses with `verification_failed`.
 */
export async function refusingCounterRegressions<T>(
  deps: Pick<Deps, 'db' | 'logger'>,
  input: { verified: PasskeyWithOwner & { counter: number }; purpose: 'authentication' | 'reauthentication' },
  now: Date,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof CounterRegression)) throw error;
  }
  const { db, logger } = deps;
  const { verified, purpose } = input;
  const { passkey, owner, counter: newCounter } = verified;
  const storedCounter = Number(passkey.counter);
  await inTransaction(db, async (trx) => {
    await recordCounterRegression(trx, passkey.credential_id, now);
    await recordAuditEvent(
      trx,
      {
        type: 'counter_regression',
        userId: owner.id,
        actor: 'system',
        passkeyId: toBase64url(passkey.credential_id),
        risk: 'high',
        details: { storedCounter, newCounter, purpose },
      },
      now,
    );
  });
  logger.warn(
    { userId: owner.id, storedCounter, newCounter },
    'signature counter regression: possible cloned authenticator',
  );
  throw new AuthError('verification_failed', 'The passkey signature counter went backwards.');
}

/**
 * What a sign-in tells the client about its risk signals (README "Risk signals"), or `null` when there is
 * nothing to say: a new device or network, a risk level, a re-verification to pass first.
 */
export type { SignInNotice };

/**
 * Finishes a usernameless sign-in: verifies the assertion, weighs the sign-in risk signals (which may
 * refuse it, or require a re-verification first, per policy: README "Risk signals"), then records the
 * passkey's use and creates a new session (a new token at every login: no session fixation) in one
 * transaction.
 */
export async function finishAuthentication(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  body: AuthenticationInput,
  context: Omit<SessionContext, 'passkeyId'>,
): Promise<{ user: User; token: string; session: Session; notice: SignInNotice | null }> {
  const { db, config, clock, logger } = deps;
  const now = clock.now();
  let verified;
  try {
    verified = await verifyAssertion(deps, { body, purpose: 'authentication' }, now);
    if (verified.owner.disabled_at !== null) throw new AuthError('account_disabled');
  } catch (error) {
    await recordAssertionFailure(deps, { type: 'login_failed', body, error, context });
    throw error;
  }
  const { passkey, owner, counter, backedUp } = verified;
  const passkeyId = toBase64url(passkey.credential_id);

  const assessment = await assessSignIn(deps, { userId: owner.id, context }, now);
  const details = signInDetails(assessment);
  if (assessment.action === 'refuse') {
    await recordAuditEvent(
      db,
      {
        type: 'login_refused',
        userId: owner.id,
        actor: 'system',
        passkeyId,
        ...context,
        risk: assessment.risk,
        details,
      },
      now,
    );
    logger.warn({ userId: owner.id, signals: assessment.signals }, 'sign-in refused by risk policy');
    throw signInRefusal(assessment, config);
  }
  const stepUpRequired = assessment.action === 'step-up';

  const signIn = () =>
    inTransaction(db, async (trx) => {
      await recordCounterUse(trx, { passkey, counter, backedUp }, now);
      const { token, session } = await createSession(
        trx,
        config.session,
        { userId: owner.id, context: { ...context, passkeyId: passkey.credential_id }, stepUpRequired },
        now,
      );
      await recordAuditEvent(
        trx,
        {
          type: 'login_succeeded',
          userId: owner.id,
          sessionId: session.id,
          passkeyId,
          ...context,
          risk: assessment.risk,
          details: { ...details, stepUpRequired },
        },
        now,
      );
      await enforceSessionLimit(trx, config.session, { session, context }, now);
      logger.info({ userId: owner.id }, 'user signed in');
      const noteworthy = assessment.newDevice || assessment.newNetwork || assessment.risk !== null || stepUpRequired;
      const notice: SignInNotice | null = noteworthy
        ? {
            newDevice: assessment.newDevice,
            newNetwork: assessment.newNetwork,
            device: assessment.device,
            risk: assessment.risk,
            signals: assessment.signals,
            stepUpRequired,
          }
        : null;
      return { user: toUser(owner), token, session, notice };
    });
  try {
    return await refusingCounterRegressions(deps, { verified, purpose: 'authentication' }, now, signIn);
  } catch (error) {
    // A counter regression is a failed sign-in too, as every other refused assertion.
    if (error instanceof AuthError && error.code === 'verification_failed')
      await recordAssertionFailure(deps, { type: 'login_failed', body, error, context });
    throw error;
  }
}

/** The audit details of a sign-in's risk signals (README "Risk signals"). */
function signInDetails(assessment: SignInAssessment): Record<string, unknown> {
  return {
    signals: assessment.signals,
    action: assessment.action,
    newDevice: assessment.newDevice,
    newNetwork: assessment.newNetwork,
    device: assessment.device,
    network: assessment.network,
    failures: assessment.failures,
  };
}
