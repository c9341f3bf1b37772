import type { MiddlewareHandler } from 'hono';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { clearSessionCookie, hasSessionCookie, readSessionCookie, setSessionCookie } from '../sessions/cookie.js';
import { validateSessionToken, type Session } from '../sessions/service.js';
import type { User } from '../users/user.js';

/** What {@link requireSession} puts in `c.var`. */
export interface SessionVariables {
  user: User;
  session: Session;
  sessionToken: string;
}

/**
 * Middleware that admits only requests with a live session cookie and puts the signed-in `user` and
 * `session` in `c.var`. A missing, tampered, unknown, expired or revoked session answers 401
 * `unauthenticated` and clears the cookie. Use it on your own routes:
 *
 * @example
 * const app = createApp(deps);
 * app.get('/api/me', requireSession(deps), (c) => c.json({ hello: c.var.user.username }));
 */
export function requireSession(deps: Pick<Deps, 'db' | 'config' | 'clock'>): MiddlewareHandler<{ Variables: SessionVariables }> {
  const cookie = { name: deps.config.session.cookieName };
  return async (c, next) => {
    const token = readSessionCookie(c, cookie);
    const now = deps.clock.now();
    const validated = token === null ? null : await validateSessionToken(deps.db, deps.config.session, token, now);
    if (validated === null || token === null) {
      if (hasSessionCookie(c, cookie)) clearSessionCookie(c, cookie);
      throw new AuthError('unauthenticated');
    }
    if (validated.refreshed) setSessionCookie(c, cookie, token, validated.session.expiresAt, now);
    c.set('user', validated.user);
    c.set('session', validated.session);
    c.set('sessionToken', token);
    await next();
  };
}
