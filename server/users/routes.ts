import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { validBody } from '../http/validate.js';
import { requireSession } from '../sessions/gate.js';
import { changeDisplayName } from './service.js';

/** Mounted at `/auth/user`: `PATCH`, the signed-in user changes their display name. */
export function userRoutes(deps: Deps) {
  const app = new Hono<AppEnv>();

  app.patch('/', jsonBody(deps.config), requireSession(deps), validBody(schemas.updateUserRequest), async (c) => {
    const session = c.get('session');
    return c.json(
      await changeDisplayName(deps, {
        ...c.var.input,
        userId: session.userId,
        sessionId: session.id,
        context: requestContextOf(c, deps.config.trustedProxies),
      }),
    );
  });

  return app;
}
