import { Hono, type Context } from 'hono';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import { requestContext } from '../http/client-address.js';
import { requireSession, type SessionVariables } from '../http/session.js';
import { clearSessionCookie } from './cookie.js';
import { listSessions, revokeOtherSessions, revokeOwnSession } from './management.js';

/** The signed-in user's sessions, by id (never by token): list, revoke one, revoke all others. */
export function sessionManagementRoutes(deps: Deps) {
  const { config } = deps;
  const app = new Hono<{ Variables: SessionVariables & { body: unknown } }>();
  const body = jsonBody(config);
  const session = requireSession(deps);
  const context = (c: Context<any>) => requestContext(c, config.trustedProxies);

  app.get('/auth/sessions', session, async (c) => c.json({ sessions: await listSessions(deps, c.var.session) }));

  app.delete('/auth/sessions/:id', body, session, async (c) => {
    const { wasCurrent } = await revokeOwnSession(deps, c.var.session, c.req.param('id'), context(c));
    if (wasCurrent) clearSessionCookie(c, { name: config.session.cookieName });
    return c.body(null, 204);
  });

  app.post('/auth/sessions/revoke-others', body, session, async (c) => c.json(await revokeOtherSessions(deps, c.var.session, context(c))));

  return app;
}
