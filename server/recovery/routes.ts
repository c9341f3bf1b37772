import { Hono, type Context } from 'hono';
import type { Deps } from '../deps.js';
import { bodyObject, jsonBody } from '../http/body.js';
import { requestContext } from '../http/client-address.js';
import { rateLimit, usernameOf } from '../http/rate-limit.js';
import { requireSession, type SessionVariables } from '../http/session.js';
import { setSessionCookie } from '../sessions/cookie.js';
import { createRecoveryCodes, getRecoveryCodeStatus, recoverAccount } from './service.js';

/** Recovery codes of the signed-in user, and account recovery with one of them. */
export function recoveryRoutes(deps: Deps) {
  const { db, config, clock } = deps;
  const app = new Hono<{ Variables: SessionVariables & { body: unknown } }>();
  const body = jsonBody(config);
  const session = requireSession(deps);
  const context = (c: Context<any>) => requestContext(c, config.trustedProxies);

  app.get('/auth/recovery-codes', session, async (c) => {
    const { remaining, createdAt } = await getRecoveryCodeStatus(db, c.var.session.userId);
    return c.json({ remaining, createdAt: createdAt?.toISOString() ?? null });
  });

  app.post('/auth/recovery-codes', body, session, async (c) => {
    const { codes, createdAt } = await createRecoveryCodes(deps, c.var.session, context(c));
    return c.json({ codes, remaining: codes.length, createdAt: createdAt.toISOString() }, 201);
  });

  // Wrong codes count against the limits per client address and per username.
  app.post('/auth/recover', body, rateLimit(deps, { family: 'recovery', identifier: usernameOf }), async (c) => {
    const input = bodyObject(c.var.body);
    const { user, token, session: created, remaining } = await recoverAccount(deps, { username: input.username, code: input.code }, context(c));
    setSessionCookie(c, { name: config.session.cookieName }, token, created.expiresAt, clock.now());
    return c.json({
      user,
      session: { id: created.id, createdAt: created.createdAt.toISOString(), expiresAt: created.expiresAt.toISOString(), restricted: true },
      remaining,
    });
  });

  return app;
}
