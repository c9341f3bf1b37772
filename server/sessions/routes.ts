import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import { requireSession, type SessionVariables } from '../http/session.js';
import { clearSessionCookie, readSessionCookie } from './cookie.js';
import { requestContext } from '../http/client-address.js';
import { logout } from './management.js';
import { validateSessionToken } from './service.js';

/** `GET /auth/session` and `POST /auth/logout`. */
export function sessionRoutes(deps: Deps) {
  const { db, config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono<{ Variables: SessionVariables & { body: unknown } }>();

  // Also answers a session held for a re-verification by a risk signal, with `session.stepUpRequired: true` (README "Risk signals").
  app.get('/auth/session', requireSession(deps, { allowStepUp: true }), (c) => {
    const { user, session, stepUpRequired } = c.var;
    return c.json({
      user,
      session: {
        id: session.id,
        createdAt: session.createdAt.toISOString(),
        expiresAt: session.expiresAt.toISOString(),
        // Only when set, so the contract's answer is unchanged for every ordinary session.
        ...(stepUpRequired ? { stepUpRequired: true } : {}),
      },
    });
  });

  // Logging out always succeeds and clears the cookie; a live session behind it is revoked at once.
  app.post('/auth/logout', jsonBody(config), async (c) => {
    const token = readSessionCookie(c, cookie);
    if (token !== null) {
      const now = clock.now();
      const validated = await validateSessionToken(db, config.session, token, now);
      if (validated) await logout(db, validated.session, requestContext(c, config.trustedProxies), now);
    }
    clearSessionCookie(c, cookie);
    return c.body(null, 204);
  });

  return app;
}
