import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { validBody } from '../http/validate.js';
import { clearSessionCookie, readSessionCookie } from './cookie.js';
import { requireSession } from './gate.js';
import { sessionManagementRoutes } from './manage-routes.js';
import { logout } from './management.js';
import { validateSessionToken } from './service.js';
import { sessionStatusRoutes } from './status-routes.js';

/**
 * Mounted at `/auth`: `GET /session`, `GET /session/status` (status-routes.ts), `POST /logout`, and
 * the signed-in user's sessions under `/sessions` (manage-routes.ts).
 */
export function sessionRoutes(deps: Deps) {
  const { db, config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono<AppEnv>();

  // Also answers a session held for a re-verification by a risk signal, with `session.stepUpRequired: true` (README "Risk signals").
  app.get('/session', requireSession(deps, { allowStepUp: true }), (c) => {
    // c.get, not c.var: Hono builds a new object of every variable at each read of c.var.
    const session = c.get('session');
    const stepUpRequired = c.get('stepUpRequired');
    return c.json({
      user: c.get('user'),
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
  app.post('/logout', jsonBody(config), validBody(schemas.emptyRequest), async (c) => {
    const token = readSessionCookie(c, cookie);
    if (token !== null) {
      const now = clock.now();
      const validated = await validateSessionToken(db, config.session, token, { now });
      if (validated) await logout(db, validated.session, requestContextOf(c, config.trustedProxies), now);
    }
    clearSessionCookie(c, cookie);
    return c.body(null, 204);
  });

  app.route('/', sessionStatusRoutes(deps));
  app.route('/sessions', sessionManagementRoutes(deps));
  return app;
}
