import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { activityQuery } from '../contract/schemas.js';
import { requireSession, type SessionVariables } from '../http/session.js';
import { validQuery } from '../http/validate.js';
import { listActivity } from './activity.js';

/** `GET /auth/activity`: the signed-in user's own audit events, newest first, a page at a time. */
export function activityRoutes(deps: Deps) {
  const app = new Hono<{ Variables: SessionVariables }>();
  app.get('/auth/activity', requireSession(deps), validQuery(activityQuery), async (c) =>
    c.json(await listActivity(deps.db, c.var.session.userId, c.var.query)),
  );
  return app;
}
