import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { validBody } from '../http/validate.js';
import { requireSession } from '../sessions/gate.js';
import { changeDisplayName } from './service.js';

/** Mounted at `/auth/user`: `PATCH`, the signed-in user changes their display name. */
export function userRoutes(deps: Deps) {
  const { config, clock } = deps;
  const app = new Hono<AppEnv>();

  app.patch('/', jsonBody(config), requireSession(deps), validBody(schemas.updateUserRequest), async (c) =>
    c.json(
      await changeDisplayName(
        deps.db,
        c.var.session.userId,
        c.var.input,
        { rpId: config.rpId, sessionId: c.var.session.id, context: c.var.requestContext },
        clock.now(),
      ),
    ),
  );

  return app;
}
