import { randomBytes } from 'node:crypto';
import {
  type AuthenticatorTransport,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
} from '@simplewebauthn/server';
import type { RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import type { AcceptedCredentials, Passkey, RenamePasskeyRequest } from '../contract/wire.js';
import { fromBase64url, toBase64url } from '../crypto.js';
import type { PasskeyRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { recordRevocations } from '../sessions/management.js';
import { revokeSessionById, revokeSessionsOfPasskey } from '../sessions/repository.js';
import { createSession, type Session } from '../sessions/service.js';
import { requireRecentVerification } from '../sessions/step-up.js';
import { findUserById, lockUser } from '../users/repository.js';
import { storeChallenge } from './challenges.js';
import {
  countPasskeysOfUser,
  deletePasskeyOfUser,
  findPasskeyOfUser,
  listPasskeyRowsOfUser,
  renamePasskeyOfUser,
} from './manage-repository.js';
import { authenticatorName, genericPasskeyName } from './names.js';
import { supportedAlgorithmIDs, verifyNewCredential } from './registration.js';
import { insertPasskey } from './repository.js';
import { maxCredentialIdBytes, type RegistrationInput } from './validation.js';

/** A passkey as its owner sees it. */
export type PasskeyView = Passkey;

/**
 * What the browser needs for the WebAuthn Signal API (`signalAllAcceptedCredentials`,
 * `signalCurrentUserDetails`): the RP ID, the WebAuthn user handle (base64url, not the user's id)
 * and the credential IDs the server still accepts for this user.
 */
export type SignalDetails = AcceptedCredentials;

export function toPasskeyView(row: PasskeyRow): PasskeyView {
  const fromAaguid = authenticatorName(row.aaguid);
  return {
    id: toBase64url(row.credential_id),
    name: row.name ?? fromAaguid ?? genericPasskeyName,
    customName: row.name !== null,
    authenticatorName: fromAaguid,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    backedUp: row.backed_up,
    deviceType: row.device_type,
    transports: row.transports,
    aaguid: row.aaguid,
  };
}

/** The signed-in user's passkeys, oldest first, with what the Signal API needs. */
export async function listPasskeys(
  deps: Pick<Deps, 'db' | 'config'>,
  session: Session,
): Promise<{ passkeys: PasskeyView[]; signal: SignalDetails }> {
  const { db, config } = deps;
  const rows = await listPasskeyRowsOfUser(db, session.userId);
  const user = await findUserById(db, session.userId);
  if (!user) throw new AuthError('unauthenticated');
  return {
    passkeys: rows.map(toPasskeyView),
    signal: {
      rpId: config.rpId,
      userId: toBase64url(user.webauthn_user_id),
      allAcceptedCredentialIds: rows.map((row) => toBase64url(row.credential_id)),
      name: user.username,
      displayName: user.display_name,
    },
  };
}

/**
 * *Step-up* (except in a recovery session, which exists to do this). Creation options for another
 * passkey of the signed-in user: their WebAuthn user handle, and `excludeCredentials` = their
 * passkeys, so an authenticator that already holds one says so instead of making a second.
 */
export async function startPasskeyRegistration(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  session: Session,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { db, config, clock } = deps;
  const now = clock.now();
  if (session.kind !== 'recovery') requireRecentVerification(session, config, now);
  const user = await findUserById(db, session.userId);
  if (!user) throw new AuthError('unauthenticated');
  const passkeys = await listPasskeyRowsOfUser(db, session.userId);
  const options = await generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: user.username,
    userDisplayName: user.display_name,
    userID: new Uint8Array(user.webauthn_user_id),
    challenge: randomBytes(32),
    timeout: config.challengeTtl * 1000,
    attestationType: config.attestation,
    excludeCredentials: passkeys.map((p) => ({
      id: toBase64url(p.credential_id),
      transports: p.transports as AuthenticatorTransport[],
    })),
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
      values: {
        purpose: 'passkey_registration',
        user_id: session.userId,
        session_id: session.id,
        webauthn_user_id: user.webauthn_user_id,
      },
      ttlSeconds: config.challengeTtl,
    },
    now,
  );
  return options;
}

/**
 * Finishes adding a passkey: the challenge must be one this session asked for. In a recovery
 * session, the restricted session then ends and a full one (created by the new passkey) replaces
 * it: `session` and `token` are set only then, and the route sets the new cookie.
 */
export async function finishPasskeyRegistration(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  session: Session,
  body: RegistrationInput,
  context: RequestContext,
): Promise<{ passkey: PasskeyView; replacement: { token: string; session: Session } | null }> {
  const { db, config, clock } = deps;
  const now = clock.now();
  const { pending, credential } = await verifyNewCredential(deps, body, 'passkey_registration', now);
  if (pending.user_id !== session.userId || pending.session_id !== session.id) throw new AuthError('invalid_challenge');
  const credentialId = credential.credential_id;

  return inTransaction(db, async (trx) => {
    if (!(await lockUser(trx, session.userId))) throw new AuthError('unauthenticated');
    const row = await insertPasskey(trx, { ...credential, user_id: session.userId });
    if (!row) throw new AuthError('credential_exists');
    const passkeyId = toBase64url(credentialId);
    const recovering = session.kind === 'recovery';
    await recordAuditEvent(
      trx,
      {
        type: 'passkey_added',
        userId: session.userId,
        sessionId: session.id,
        passkeyId,
        ...context,
        details: { aaguid: credential.aaguid, duringRecovery: recovering },
      },
      now,
    );
    if (!recovering) return { passkey: toPasskeyView(row), replacement: null };

    // Recovery done: the restricted session ends, and the new passkey's session replaces it (a new
    // token, so nothing of the recovery session's cookie lives on).
    if (!(await revokeSessionById(trx, session.id, now))) throw new AuthError('unauthenticated');
    const replacement = await createSession(
      trx,
      config.session,
      { userId: session.userId, context: { ...context, passkeyId: credentialId } },
      now,
    );
    await recordRevocations(
      trx,
      { userId: session.userId, sessionIds: [session.id], actor: 'system', cause: 'recovery_completed', context },
      now,
    );
    await recordAuditEvent(
      trx,
      {
        type: 'recovery_completed',
        userId: session.userId,
        sessionId: replacement.session.id,
        passkeyId,
        ...context,
        details: { recoverySession: session.id },
      },
      now,
    );
    return { passkey: toPasskeyView(row), replacement };
  });
}

/**
 * Renames one of the signed-in user's passkeys (`id`, its credential ID in base64url): 1 to 64
 * characters after trimming, no control characters; `null` clears the name (the authenticator's
 * name shows again). Another user's passkey is `not_found`.
 */
export async function renamePasskey(
  deps: Pick<Deps, 'db' | 'clock'>,
  session: Session,
  input: RenamePasskeyRequest & { id: string },
  context: RequestContext,
): Promise<PasskeyView> {
  const { db, clock } = deps;
  const { id, name } = input;
  const credentialId = parseCredentialId(id);
  const now = clock.now();
  return inTransaction(db, async (trx) => {
    const row = await renamePasskeyOfUser(trx, session.userId, credentialId, name);
    if (!row) throw new AuthError('not_found');
    await recordAuditEvent(
      trx,
      {
        type: 'passkey_renamed',
        userId: session.userId,
        sessionId: session.id,
        passkeyId: id,
        ...context,
        details: { name },
      },
      now,
    );
    return toPasskeyView(row);
  });
}

/**
 * *Step-up.* Deletes one of the signed-in user's passkeys and revokes every session it created (the
 * current one too, if it did). `last_passkey` for their only passkey; another user's passkey is
 * `not_found`; both change nothing.
 */
export async function deletePasskey(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  session: Session,
  id: string,
  context: RequestContext,
): Promise<{ currentSessionRevoked: boolean }> {
  const { db, config, clock } = deps;
  const now = clock.now();
  requireRecentVerification(session, config, now);
  const credentialId = parseCredentialId(id);
  return inTransaction(db, async (trx) => {
    if (!(await lockUser(trx, session.userId))) throw new AuthError('unauthenticated');
    if (!(await findPasskeyOfUser(trx, session.userId, credentialId))) throw new AuthError('not_found');
    if ((await countPasskeysOfUser(trx, session.userId)) <= 1) throw new AuthError('last_passkey');
    // Before the delete: the foreign key would otherwise set the sessions' passkey_id to null.
    const revoked = await revokeSessionsOfPasskey(trx, credentialId, now);
    await deletePasskeyOfUser(trx, session.userId, credentialId);
    await recordAuditEvent(
      trx,
      {
        type: 'passkey_deleted',
        userId: session.userId,
        sessionId: session.id,
        passkeyId: id,
        ...context,
        details: { revokedSessions: revoked.length },
      },
      now,
    );
    await recordRevocations(
      trx,
      {
        userId: session.userId,
        sessionIds: revoked,
        actor: 'user',
        cause: 'passkey_deleted',
        passkeyId: id,
        fromSession: session.id,
        context,
      },
      now,
    );
    return { currentSessionRevoked: revoked.includes(session.id) };
  });
}

function parseCredentialId(id: string): Buffer {
  const bytes = id.length <= 1400 ? fromBase64url(id) : null;
  // Not a credential ID at all: as unknown as another user's.
  if (bytes === null || bytes.byteLength === 0 || bytes.byteLength > maxCredentialIdBytes)
    throw new AuthError('not_found');
  return bytes;
}
