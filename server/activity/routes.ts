import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../http/env.js';
import { requireSession } from '../sessions/gate.js';
import { listActivity } from './activity.js';

/** Mounted at `/auth/activity`: `GET`, the signed-in user's own audit events, newest first, a page at a time. */
export function activityRoutes(deps: Deps) {
  const app = new Hono<AppEnv>();
  app.get('/', requireSession(deps), async (c) =>
    c.json(await listActivity(deps.db, c.var.session.userId, { cursor: c.req.query('cursor'), limit: c.req.query('limit') })),
  );
  return app;
}
