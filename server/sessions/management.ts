import type { Kysely } from 'kysely';
import type { Actor, RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import type { SessionSummary } from '../contract/wire.js';
import { toBase64url } from '../crypto.js';
import type { Database, SessionRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { liveAt, type SessionConfig, sessionEnd } from './lifetime.js';
import {
  listLiveSessionsOfUser,
  revokeSessionById,
  revokeSessionOfUser,
  revokeSessionsOfUserExcept,
} from './repository.js';
import type { Session } from './service.js';
import { requireRecentVerification } from './step-up.js';

/** A session as `GET /auth/sessions` shows it: never its token. */
export type SessionView = SessionSummary;

/** The signed-in user's live sessions, newest first, marking the one making the request. */
export async function listSessions(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  current: Session,
): Promise<SessionView[]> {
  const { db, config, clock } = deps;
  const now = clock.now();
  const rows = await listLiveSessionsOfUser(db, current.userId, liveAt(config.session, now));
  return rows.map((row) => toSessionView(row, config.session, current.id));
}

/**
 * Revokes one of the signed-in user's own live sessions. Any other id, including another user's
 * session, is `not_found` and changes nothing. *Step-up* unless it is the session making the request:
 * revoking another session one by one must need what revoking them all needs. Returns whether it was
 * the session making the request (whose cookie the route then clears).
 */
export async function revokeOwnSession(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  current: Session,
  sessionId: string,
  context: RequestContext,
): Promise<{ wasCurrent: boolean }> {
  const { db, config, clock } = deps;
  const now = clock.now();
  // Ids are 20 base64url characters; anything else (a NUL byte, say) cannot name a session.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) throw new AuthError('not_found');
  return inTransaction(db, async (trx) => {
    if (!(await revokeSessionOfUser(trx, current.userId, sessionId, liveAt(config.session, now))))
      throw new AuthError('not_found');
    // After the ownership check, so another user's id stays 404 either way; throwing rolls the revocation back.
    if (sessionId !== current.id) requireRecentVerification(current, config, now);
    await recordAuditEvent(
      trx,
      {
        type: 'session_revoked',
        userId: current.userId,
        sessionId,
        ...context,
        details: { cause: 'revoked_by_user', fromSession: current.id },
      },
      now,
    );
    return { wasCurrent: sessionId === current.id };
  });
}

/** *Step-up.* Revokes every live session of the signed-in user except the current one. */
export async function revokeOtherSessions(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  current: Session,
  context: RequestContext,
): Promise<{ revoked: number }> {
  const { db, config, clock } = deps;
  const now = clock.now();
  requireRecentVerification(current, config, now);
  return inTransaction(db, async (trx) => {
    const revoked = await revokeSessionsOfUserExcept(trx, current.userId, current.id, liveAt(config.session, now));
    await recordRevocations(
      trx,
      {
        userId: current.userId,
        sessionIds: revoked,
        actor: 'user',
        cause: 'revoke_others',
        fromSession: current.id,
        context,
      },
      now,
    );
    return { revoked: revoked.length };
  });
}

/** Ends a session on logout, with its audit event, in one transaction. */
export async function logout(
  db: Kysely<Database>,
  session: Session,
  context: RequestContext,
  now: Date,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    if (await revokeSessionById(trx, session.id, now)) {
      await recordAuditEvent(trx, { type: 'logout', userId: session.userId, sessionId: session.id, ...context }, now);
    }
  });
}

/** One `session_revoked` event per revoked session of `userId`; pass the transaction of the revocation. */
export async function recordRevocations(
  trx: Kysely<Database>,
  how: {
    userId: string;
    sessionIds: string[];
    actor: Actor;
    cause: string;
    fromSession?: string;
    passkeyId?: string;
    context?: RequestContext;
  },
  now: Date,
): Promise<void> {
  const { userId, sessionIds } = how;
  for (const sessionId of sessionIds) {
    await recordAuditEvent(
      trx,
      {
        type: 'session_revoked',
        userId,
        actor: how.actor,
        sessionId,
        passkeyId: how.passkeyId ?? null,
        ipAddress: how.context?.ipAddress ?? null,
        userAgent: how.context?.userAgent ?? null,
        details: { cause: how.cause, ...(how.fromSession ? { fromSession: how.fromSession } : {}) },
      },
      now,
    );
  }
}

function toSessionView(row: SessionRow, config: SessionConfig, currentId: string): SessionView {
  return {
    id: row.id,
    createdAt: row.created_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    expiresAt: sessionEnd(config, row.expires_at, row.last_seen_at).toISOString(),
    userAgent: row.user_agent,
    ipAddress: row.ip_address,
    passkeyId: row.passkey_id === null ? null : toBase64url(row.passkey_id),
    restricted: row.kind === 'recovery',
    current: row.id === currentId,
  };
}
