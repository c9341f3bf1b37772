import { randomBytes, randomUUID } from 'node:crypto';
import {
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { recordAuditEvent } from '../audit/repository.js';
import { toBase64url } from '../crypto.js';
import type { ChallengeRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { ceremonyOrigins } from '../platform/origins.js';
import { createSession, type Session, type SessionContext } from '../sessions/service.js';
import { toUser, type User } from '../user.js';
import { findUserByUsername, insertUser } from '../users/repository.js';
import { consumeChallenge, storeChallenge } from './challenges.js';
import { insertPasskey, type NewPasskeyRow } from './repository.js';
import { parseRegistrationResponse, type RegistrationInput } from './validation.js';

/** EdDSA, ES256, RS256: offered at registration and required at verification, the same list. */
export const supportedAlgorithmIDs = [-8, -7, -257];

/**
 * Begins a sign-up: creation options for a discoverable credential, with a fresh random 32-byte
 * WebAuthn user handle (never derived from the username), remembered with the challenge.
 */
export async function startRegistration(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  input: { username: string; displayName?: string | null | undefined },
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { db, config, clock } = deps;
  // Normalised and checked by the contract's schema (normalizeUsername, normalizeDisplayName).
  const { username } = input;
  const displayName = input.displayName ?? username;
  if (await findUserByUsername(db, username)) throw new AuthError('username_taken');

  const webauthnUserId = randomBytes(32);
  const options = await generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: username,
    userDisplayName: displayName,
    userID: webauthnUserId,
    challenge: randomBytes(32),
    timeout: config.challengeTtl * 1000,
    attestationType: config.attestation,
    authenticatorSelection: {
      residentKey: 'required',
      requireResidentKey: true,
      userVerification: config.userVerification,
    },
    supportedAlgorithmIDs,
  });
  await storeChallenge(
    db,
    {
      challenge: options.challenge,
      values: { purpose: 'registration', webauthn_user_id: webauthnUserId, username, display_name: displayName },
      ttlSeconds: config.challengeTtl,
    },
    clock.now(),
  );
  return options;
}

/**
 * Finishes a sign-up: consumes the challenge, verifies the attestation with @simplewebauthn/server,
 * then writes the user, the passkey and the first session in one transaction, so a failure at any
 * step leaves nothing behind.
 */
export async function finishRegistration(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  body: RegistrationInput,
  context: Omit<SessionContext, 'passkeyId'>,
): Promise<{ user: User; token: string; session: Session }> {
  const { db, config, clock, logger } = deps;
  const now = clock.now();
  const { pending, credential } = await verifyNewCredential(deps, body, 'registration', now);
  if (!pending.webauthn_user_id || !pending.username || !pending.display_name) throw new AuthError('invalid_challenge');
  const credentialId = credential.credential_id;

  const { username, display_name: displayName, webauthn_user_id: webauthnUserId } = pending;
  return inTransaction(db, async (trx) => {
    const user = await insertUser(trx, {
      id: randomUUID(),
      webauthn_user_id: webauthnUserId,
      username,
      display_name: displayName,
      created_at: now,
    });
    if (!user) throw new AuthError('username_taken');
    const passkey = await insertPasskey(trx, { ...credential, user_id: user.id });
    if (!passkey) throw new AuthError('credential_exists');
    const { token, session } = await createSession(
      trx,
      config.session,
      { userId: user.id, context: { ...context, passkeyId: credentialId } },
      now,
    );
    await recordAuditEvent(
      trx,
      {
        type: 'user_registered',
        userId: user.id,
        sessionId: session.id,
        passkeyId: toBase64url(credentialId),
        ...context,
        details: { aaguid: credential.aaguid },
      },
      now,
    );
    logger.info({ userId: user.id }, 'user registered');
    return { user: toUser(user), token, session };
  });
}

/**
 * The verification both sign-up and adding a passkey run: parse the response, consume the
 * challenge of `purpose` (before verifying, so a failed attempt burns it), verify the attestation
 * with the same algorithm list that was offered and `userVerification` as configured, and return
 * the new credential as a passkey row without its owner.
 */
export async function verifyNewCredential(
  deps: Pick<Deps, 'db' | 'config' | 'logger'>,
  body: RegistrationInput,
  purpose: 'registration' | 'passkey_registration',
  now: Date,
): Promise<{ pending: ChallengeRow; credential: Omit<NewPasskeyRow, 'user_id'> }> {
  const { db, config, logger } = deps;
  const { response, challenge, crossOrigin, credentialId } = parseRegistrationResponse(body);
  const pending = await consumeChallenge(db, challenge, purpose, now);
  // This server is never embedded in another site's frame; the library alone would accept it.
  if (crossOrigin) throw new AuthError('registration_failed', 'The ceremony ran in a cross-origin frame.');

  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: ceremonyOrigins(config),
      expectedRPID: config.rpId,
      requireUserPresence: true,
      requireUserVerification: config.userVerification === 'required',
      supportedAlgorithmIDs,
    });
  } catch (error) {
    logger.info({ err: error, purpose }, 'registration response rejected');
    throw new AuthError('registration_failed', undefined, { cause: error });
  }
  if (!verification.verified) throw new AuthError('registration_failed');
  const info = verification.registrationInfo;
  if (info.credential.id !== response.id)
    throw new AuthError('registration_failed', 'The credential ID does not match the attested one.');
  return {
    pending,
    credential: {
      credential_id: credentialId,
      public_key: info.credential.publicKey,
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      aaguid: info.aaguid,
      device_type: info.credentialDeviceType,
      backed_up: info.credentialBackedUp,
      created_at: now,
    },
  };
}
