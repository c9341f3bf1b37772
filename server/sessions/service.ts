import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/repository.js';
import type { Database, SessionKind } from '../db/schema.js';
import type { RequestContext } from '../request-context.js';
import type { StoredSessionContext } from '../risk/session-context.js';
import type { User } from '../user.js';
import { initialSessionContext } from './context-policy.js';
import { liveAt, type SessionConfig, sessionEnd } from './lifetime.js';
import {
  findActiveSession,
  insertSession,
  type LookupContext,
  revokeLeastRecentlyUsedSessions,
  touchSession,
} from './repository.js';
import { revokeSessionForSecretReuse, type SessionSecretState } from './secret-rotation.js';
import { formatToken, hashSecret, newSessionId, newSessionSecret, parseToken, secretHashMatches } from './token.js';

/** A live session as the rest of the server sees it. */
export interface Session {
  id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** The earlier of the absolute expiry and the idle expiry. */
  expiresAt: Date;
  /** When the user last proved presence with a passkey on this session (login or step-up). */
  verifiedAt: Date;
  /** `recovery`: a restricted session from a recovery code, which may only add a passkey and sign out. */
  kind: SessionKind;
}

export interface SessionContext {
  passkeyId: Uint8Array | null;
  userAgent: string | null;
  ipAddress: string | null;
}

export interface NewSession {
  userId: string;
  context: SessionContext;
  /** `recovery` for the restricted session of an account recovery; `full` by default. */
  kind?: SessionKind;
  /** Seconds; never more than the configured absolute lifetime (the default). */
  lifetime?: number;
  /** A risky sign-in (server/risk/): a passkey re-verification comes first. */
  stepUpRequired?: boolean;
}

/**
 * Creates a session and returns its token `id.secret` (server/sessions/token.ts): only SHA-256 of the
 * secret is stored, so a leaked table yields no usable token. Pass the caller's transaction as `db`.
 */
export async function createSession(
  db: Kysely<Database>,
  config: SessionConfig,
  input: NewSession,
  now: Date,
): Promise<{ token: string; session: Session }> {
  const { userId, context, kind = 'full', lifetime = config.absoluteLifetime, stepUpRequired = false } = input;
  const id = newSessionId();
  const secret = newSessionSecret();
  const expiresAt = new Date(now.getTime() + Math.min(lifetime, config.absoluteLifetime) * 1000);
  await insertSession(db, {
    id,
    secret_hash: hashSecret(secret),
    user_id: userId,
    passkey_id: context.passkeyId,
    created_at: now,
    last_seen_at: now,
    expires_at: expiresAt,
    verified_at: now,
    user_agent: context.userAgent,
    ip_address: context.ipAddress,
    kind,
    // The context later requests are compared with (server/sessions/context-policy.ts).
    ...initialSessionContext(context),
    step_up_required_at: stepUpRequired ? now : null,
  });
  const session: Session = {
    id,
    userId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: sessionEnd(config, expiresAt, now),
    verifiedAt: now,
    kind,
  };
  return { token: formatToken(id, secret), session };
}

export interface ValidatedSession {
  session: Session;
  user: User;
  /** True when this validation extended the idle expiry, so the cookie should be sent again. */
  refreshed: boolean;
  /** Which secret the token carried (current, or previous within its grace) and when the current one was issued. */
  secret: SessionSecretState;
  /**
   * The context the session trusts and its risk state, for `enforceSessionContext` (context-policy.ts);
   * `null` when the request's context (given to {@link validateSessionToken}) is the session's and no
   * step-up is pending: nothing to enforce.
   */
  context: StoredSessionContext | null;
}

/**
 * Validates a session token: one query for the session and its user, a constant-time comparison of
 * the secret's hash, and a `last_seen_at` write at most once per `touchInterval` (most requests do no
 * write). `null` for an unknown, tampered, expired, revoked or disabled-user session. With the
 * request's `current` context, the session's own context is returned only when it differs from it
 * (or a step-up is pending): `context: null` means there is nothing to enforce.
 */
export async function validateSessionToken(
  db: Kysely<Database>,
  config: SessionConfig,
  token: string,
  at: { now: Date; current?: LookupContext },
): Promise<ValidatedSession | null> {
  const { now } = at;
  const parsed = parseToken(token);
  if (parsed === null) return null;
  const { id, secret } = parsed;
  const row = await findActiveSession(db, id, liveAt(config, now), at.current ?? null);
  if (row === null) return null;
  // Both comparisons always run, in constant time (see secretHashMatches); the previous secret
  // (README "Access tokens") counts only within its grace, and after it, replaying it revokes the session.
  const hash = hashSecret(secret);
  const current = secretHashMatches(hash, row.secret_hash);
  const previous = row.previous_secret_hash !== null && secretHashMatches(hash, row.previous_secret_hash);
  if (!current && !previous) return null;
  const issuedAt = row.secret_rotated_at ?? row.created_at;
  if (!current && now.getTime() >= issuedAt.getTime() + config.secretRotationGrace * 1000) {
    await revokeSessionForSecretReuse(db, { id: row.id, userId: row.user_id }, hash, now);
    return null;
  }

  let lastSeenAt = row.last_seen_at;
  const touched = now.getTime() - lastSeenAt.getTime() >= config.touchInterval * 1000;
  if (touched) {
    await touchSession(db, id, now);
    lastSeenAt = now;
  }
  // A retired secret is never sent back in a cookie: the browser already holds its successor.
  const refreshed = touched && current;
  return {
    session: {
      id: row.id,
      userId: row.user_id,
      createdAt: row.created_at,
      lastSeenAt,
      expiresAt: sessionEnd(config, row.expires_at, lastSeenAt),
      verifiedAt: row.verified_at,
      kind: row.kind,
    },
    user: { id: row.user_id, username: row.username, displayName: row.display_name },
    refreshed,
    secret: { current, issuedAt },
    context: row.context,
  };
}

/**
 * The per-user session limit (`SESSION_LIMIT`, off when 0): after a sign-in created `session`, the
 * user's least recently used live sessions beyond the limit are revoked, each recorded as
 * `session_evicted` (reported as `session.revoked`). Run it in the sign-in's transaction.
 */
export async function enforceSessionLimit(
  db: Kysely<Database>,
  config: SessionConfig,
  input: { session: { id: string; userId: string }; context: RequestContext },
  now: Date,
): Promise<string[]> {
  if (config.limit === 0) return [];
  const { session, context } = input;
  const revoked = await revokeLeastRecentlyUsedSessions(
    db,
    session.userId,
    { exceptId: session.id, keep: config.limit - 1 },
    liveAt(config, now),
  );
  for (const id of revoked) {
    await recordAuditEvent(
      db,
      {
        type: 'session_evicted',
        userId: session.userId,
        actor: 'system',
        reason: 'session_limit',
        sessionId: id,
        ipAddress: context.ipAddress,
        userAgent: context.userAgent,
        details: { limit: config.limit, newSession: session.id },
      },
      now,
    );
  }
  return revoked;
}
