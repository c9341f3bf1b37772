import type { Actor, RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import type { UpdateUserRequest } from '../contract/wire.js';
import { toBase64url } from '../crypto.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { revokeAllSessionsOfUser } from '../sessions/repository.js';
import { toUser, type User } from '../user.js';
import { deleteUserRow, lockUser, setDisplayName, setUserDisabledAt } from './repository.js';

/** Who changes which user: the input of the account services below. */
export interface UserChange {
  userId: string;
  actor: Actor;
}

/**
 * Disables a user and revokes all of their sessions in the same transaction, so that their very next
 * request answers 401 and new logins answer 403 `account_disabled`. `null` for an unknown user;
 * `changed: false` when the user was already disabled (nothing written). Inside a transaction, pass
 * it as `db` (`{ ...deps, db: trx }`): the change joins it.
 */
export async function disableUser(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: UserChange,
): Promise<{ changed: boolean; revokedSessions: number } | null> {
  const { userId, actor } = input;
  const now = deps.clock.now();
  return inTransaction(deps.db, async (trx) => {
    const user = await lockUser(trx, userId);
    if (!user) return null;
    // Revoke even when already disabled: a login racing the first disable may have left a session.
    const revoked = await revokeAllSessionsOfUser(trx, userId, now);
    if (user.disabled_at !== null) return { changed: false, revokedSessions: revoked.length };
    await setUserDisabledAt(trx, userId, now);
    await recordAuditEvent(
      trx,
      { type: 'user_disabled', userId, actor, details: { revokedSessions: revoked.length } },
      now,
    );
    return { changed: true, revokedSessions: revoked.length };
  });
}

/** Enables a disabled user. `null` for an unknown user; `changed: false` when the user was not disabled. */
export async function enableUser(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: UserChange,
): Promise<{ changed: boolean } | null> {
  const { userId, actor } = input;
  const now = deps.clock.now();
  return inTransaction(deps.db, async (trx) => {
    const user = await lockUser(trx, userId);
    if (!user) return null;
    if (user.disabled_at === null) return { changed: false };
    await setUserDisabledAt(trx, userId, null);
    await recordAuditEvent(trx, { type: 'user_enabled', userId, actor }, now);
    return { changed: true };
  });
}

/**
 * Revokes every session of a user at once, with one `session_revoked` event per session. `null` for
 * an unknown user.
 */
export async function revokeAllSessions(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: UserChange,
): Promise<{ revokedSessions: number } | null> {
  const { userId, actor } = input;
  const now = deps.clock.now();
  return inTransaction(deps.db, async (trx) => {
    const user = await lockUser(trx, userId);
    if (!user) return null;
    const revoked = await revokeAllSessionsOfUser(trx, userId, now);
    for (const sessionId of revoked) {
      await recordAuditEvent(trx, { type: 'session_revoked', userId, actor, sessionId, details: { all: true } }, now);
    }
    return { revokedSessions: revoked.length };
  });
}

/**
 * Deletes a user; their passkeys and sessions go with them (ON DELETE CASCADE), so every session
 * ends at once. The `user_deleted` event keeps the user id (not the username). `false` for an
 * unknown user.
 */
export async function deleteUser(deps: Pick<Deps, 'db' | 'clock'>, input: UserChange): Promise<boolean> {
  const { userId, actor } = input;
  const now = deps.clock.now();
  return inTransaction(deps.db, async (trx) => {
    const deleted = await deleteUserRow(trx, userId);
    if (!deleted) return false;
    await recordAuditEvent(trx, { type: 'user_deleted', userId, actor }, now);
    return true;
  });
}

/**
 * Changes the signed-in user's display name (at most 64 characters, no control characters; empty
 * means the username). Returns the user and what the browser needs to tell its passkey providers
 * through the Signal API (`signalCurrentUserDetails`): the RP ID and the WebAuthn user handle.
 */
export async function changeDisplayName(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  input: UpdateUserRequest & { userId: string; sessionId: string; context: RequestContext },
): Promise<{ user: User; signal: { rpId: string; userId: string; name: string; displayName: string } }> {
  const { userId, sessionId, context } = input;
  const { rpId } = deps.config;
  const now = deps.clock.now();
  return inTransaction(deps.db, async (trx) => {
    const current = await lockUser(trx, userId);
    if (!current) throw new AuthError('unauthenticated');
    // Checked and normalised by the contract's schema; empty or null means the username.
    const displayName = input.displayName ?? current.username;
    const updated = await setDisplayName(trx, userId, displayName);
    if (displayName !== current.display_name) {
      await recordAuditEvent(
        trx,
        {
          type: 'display_name_changed',
          userId,
          sessionId,
          ...context,
          details: { displayName },
        },
        now,
      );
    }
    return {
      user: toUser(updated),
      signal: {
        rpId,
        userId: toBase64url(updated.webauthn_user_id),
        name: updated.username,
        displayName: updated.display_name,
      },
    };
  });
}
