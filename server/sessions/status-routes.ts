import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { clearSessionCookie, hasSessionCookie, readSessionCookie, setSessionCookie } from './cookie.js';
import { validateSessionToken } from './service.js';

/**
 * `GET /auth/session/status` (an addition to the contract): the same answer as `GET /auth/session`
 * when signed in, plus `"signedIn": true` and `"restricted"` (a recovery session), and
 * `200 {"signedIn": false}` when not. A page can ask "am I signed in?" on load without a 401, which
 * browsers log as a console error. A dead cookie is cleared, as `requireSession` does.
 */
export function sessionStatusRoutes(deps: Pick<Deps, 'db' | 'config' | 'clock'>) {
  const { db, config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono();

  app.get('/auth/session/status', async (c) => {
    const token = readSessionCookie(c, cookie);
    const now = clock.now();
    const validated = token === null ? null : await validateSessionToken(db, config.session, token, now);
    if (validated === null || token === null) {
      if (hasSessionCookie(c, cookie)) clearSessionCookie(c, cookie);
      return c.json({ signedIn: false });
    }
    if (validated.refreshed) setSessionCookie(c, cookie, token, validated.session.expiresAt, now);
    const { user, session } = validated;
    return c.json({
      signedIn: true,
      restricted: session.kind === 'recovery',
      user,
      session: { id: session.id, createdAt: session.createdAt.toISOString(), expiresAt: session.expiresAt.toISOString() },
    });
  });

  return app;
}
