import { Hono, type Context } from 'hono';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import { requestContext } from '../http/client-address.js';
import { requireSession, type SessionVariables } from '../http/session.js';
import { changeDisplayName } from './service.js';

/** `PATCH /auth/user`: the signed-in user changes their display name. */
export function userRoutes(deps: Deps) {
  const { config, clock } = deps;
  const app = new Hono<{ Variables: SessionVariables & { body: unknown } }>();
  const context = (c: Context<any>) => requestContext(c, config.trustedProxies);

  app.patch('/auth/user', jsonBody(config), requireSession(deps), async (c) =>
    c.json(
      await changeDisplayName(deps.db, c.var.session.userId, c.var.body, { rpId: config.rpId, sessionId: c.var.session.id, context: context(c) }, clock.now()),
    ),
  );

  return app;
}
