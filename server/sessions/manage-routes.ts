import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { validBody } from '../http/validate.js';
import { clearSessionCookie } from './cookie.js';
import { requireSession } from './gate.js';
import { listSessions, revokeOtherSessions, revokeOwnSession } from './management.js';

/** Mounted at `/auth/sessions`: the signed-in user's sessions, by id (never by token): list, revoke one, revoke all others. */
export function sessionManagementRoutes(deps: Deps) {
  const { config } = deps;
  const app = new Hono<AppEnv>();
  const body = jsonBody(config);
  const session = requireSession(deps);

  app.get('/', session, async (c) => c.json({ sessions: await listSessions(deps, c.var.session) }));

  app.delete('/:id', body, session, validBody(schemas.emptyRequest), async (c) => {
    const { wasCurrent } = await revokeOwnSession(
      deps,
      c.var.session,
      c.req.param('id'),
      requestContextOf(c, config.trustedProxies),
    );
    if (wasCurrent) clearSessionCookie(c, { name: config.session.cookieName });
    return c.body(null, 204);
  });

  app.post('/revoke-others', body, session, validBody(schemas.emptyRequest), async (c) =>
    c.json(await revokeOtherSessions(deps, c.var.session, requestContextOf(c, config.trustedProxies))),
  );

  return app;
}
