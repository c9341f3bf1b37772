import type { Context, MiddlewareHandler } from 'hono';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { requestContextOf } from '../http/front-door.js';
import { networkOf } from '../net/network.js';
import type { User } from '../user.js';
import { enforceSessionContext } from './context-policy.js';
import { clearSessionCookie, hasSessionCookie, readSessionCookie, setSessionCookie } from './cookie.js';
import { passesDeviceBinding } from './device-binding.js';
import type { SessionSecretState } from './secret-rotation.js';
import { type Session, type ValidatedSession, validateSessionToken } from './service.js';
import { parseToken } from './token.js';

/** What {@link requireSession} puts in `c.var`. */
export interface SessionVariables {
  user: User;
  session: Session;
  sessionToken: string;
  /** Which of the session's secrets the cookie carried (for rotation when minting access tokens). */
  sessionSecret: SessionSecretState;
  /** The session must pass a passkey re-verification first (risk signals, README "Risk signals"); only routes with `allowStepUp` see it true. */
  stepUpRequired: boolean;
}

export interface RequireSessionOptions {
  /** Admit the restricted session of an account recovery too (only the add-a-passkey routes do). */
  allowRecovery?: boolean;
  /**
   * Admit a session that must pass a passkey re-verification first (risk signals, README "Risk signals"):
   * only the re-verification routes and `GET /auth/session` do. Others answer 403 `reauthentication_required`.
   */
  allowStepUp?: boolean;
}

/**
 * Middleware that admits only requests with a live session cookie and puts the signed-in `user` and
 * `session` in `c.var`. A missing, tampered, unknown, expired or revoked session answers 401
 * `unauthenticated` and clears the cookie; a restricted recovery session answers 403
 * `reauthentication_required` unless `allowRecovery` is set. The request's browser and network are
 * compared with the session's (README "Risk signals"): per policy a change is recorded, revokes the session
 * (401), or requires a passkey re-verification, until which the session answers 403
 * `reauthentication_required` unless `allowStepUp` is set. Use it on your own routes:
 *
 * @example
 * const app = createApp(deps);
 * app.get('/api/me', requireSession(deps), (c) => c.json({ hello: c.var.user.username }));
 */
export function requireSession(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  options: RequireSessionOptions = {},
): MiddlewareHandler<{ Variables: SessionVariables }> {
  const { allowRecovery = false, allowStepUp = false } = options;
  return async (c, next) => {
    const authenticated = await authenticateRequest(deps, c);
    if (authenticated === null) throw new AuthError('unauthenticated');
    const { validated, token, stepUpRequired } = authenticated;
    // A recovery session may only add a passkey and sign out (README "Account and session lifecycle"): 403 elsewhere.
    if (validated.session.kind === 'recovery' && !allowRecovery) {
      throw new AuthError('reauthentication_required', 'This recovery session can only add a passkey or sign out.');
    }
    if (stepUpRequired && !allowStepUp) {
      throw new AuthError(
        'reauthentication_required',
        'Unusual activity on this session: confirm it is you with your passkey.',
      );
    }
    c.set('user', validated.user);
    c.set('session', validated.session);
    c.set('sessionToken', token);
    c.set('sessionSecret', validated.secret);
    c.set('stepUpRequired', stepUpRequired);
    await next();
  };
}

/**
 * The session behind a request, as every session-aware route sees it: the cookie validated (a dead
 * one is cleared), the request's browser and network checked against the session's per the risk
 * policy (a revoked session clears the cookie), and the cookie sent again when the idle expiry
 * moved. `null` when there is no live session.
 */
export async function authenticateRequest(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  c: Context,
): Promise<{ validated: ValidatedSession; token: string; stepUpRequired: boolean } | null> {
  const cookie = { name: deps.config.session.cookieName };
  const token = readSessionCookie(c, cookie);
  const now = deps.clock.now();
  // DBSC (server/dbsc/, ./device-binding.ts): a device-bound session also needs its short-lived
  // cookie; refused, the session cookie is kept, for the browser's refresh that proves the key.
  // (Off by default: then no await, so an ordinary request takes no extra turn of the event loop.)
  if (deps.config.dbsc.enabled && token !== null) {
    const sessionId = parseToken(token)?.id;
    if (sessionId !== undefined && !(await passesDeviceBinding(deps, c, sessionId, now))) return null;
  }
  // The request's browser and network, read once per request by the front door (computed here when
  // mounted without it): the lookup compares them with the session's in SQL, so a request from the
  // session's own context brings back no context to compare (server/risk/session-context.ts).
  const current = requestContextOf(c, deps.config.trustedProxies);
  const lookup = { userAgent: current.userAgent ?? '', network: networkOf(current.ipAddress) };
  const validated =
    token === null ? null : await validateSessionToken(deps.db, deps.config.session, token, { now, current: lookup });
  if (validated === null || token === null) {
    if (hasSessionCookie(c, cookie)) clearSessionCookie(c, cookie);
    return null;
  }
  const risk =
    validated.context === null
      ? 'ok'
      : await enforceSessionContext(deps, { session: validated.session, stored: validated.context, current }, now);
  if (risk === 'revoked') {
    clearSessionCookie(c, cookie);
    return null;
  }
  if (validated.refreshed) setSessionCookie(c, cookie, { token, expiresAt: validated.session.expiresAt }, now);
  return { validated, token, stepUpRequired: risk === 'step-up' };
}
