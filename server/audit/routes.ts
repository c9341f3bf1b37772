import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { requireSession, type SessionVariables } from '../sessions/gate.js';
import { listActivity } from './activity.js';

/** `GET /auth/activity`: the signed-in user's own audit events, newest first, a page at a time. */
export function activityRoutes(deps: Deps) {
  const app = new Hono<{ Variables: SessionVariables }>();
  app.get('/auth/activity', requireSession(deps), async (c) =>
    c.json(await listActivity(deps.db, c.var.session.userId, { cursor: c.req.query('cursor'), limit: c.req.query('limit') })),
  );
  return app;
}
