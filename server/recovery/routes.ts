import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { rateLimit, usernameOf } from '../http/rate-limit.js';
import { validBody } from '../http/validate.js';
import { setSessionCookie } from '../sessions/cookie.js';
import { requireSession } from '../sessions/gate.js';
import { createRecoveryCodes, getRecoveryCodeStatus, recoverAccount } from './service.js';

/** Mounted at `/auth`: recovery codes of the signed-in user (`/recovery-codes`), and account recovery with one of them (`/recover`). */
export function recoveryRoutes(deps: Deps) {
  const { db, config, clock } = deps;
  const app = new Hono<AppEnv>();
  const body = jsonBody(config);
  const session = requireSession(deps);

  app.get('/recovery-codes', session, async (c) => {
    const { remaining, createdAt } = await getRecoveryCodeStatus(db, c.var.session.userId);
    return c.json({ remaining, createdAt: createdAt?.toISOString() ?? null });
  });

  app.post('/recovery-codes', body, session, validBody(schemas.emptyRequest), async (c) => {
    const { codes, createdAt } = await createRecoveryCodes(
      deps,
      c.var.session,
      requestContextOf(c, config.trustedProxies),
    );
    return c.json({ codes, remaining: codes.length, createdAt: createdAt.toISOString() }, 201);
  });

  // Wrong codes count against the limits per client address and per username.
  app.post(
    '/recover',
    body,
    rateLimit(deps, { family: 'recovery', identifier: usernameOf }),
    validBody(schemas.recoverRequest),
    async (c) => {
      const {
        user,
        token,
        session: created,
        remaining,
      } = await recoverAccount(deps, c.var.input, requestContextOf(c, config.trustedProxies));
      setSessionCookie(c, { name: config.session.cookieName }, { token, expiresAt: created.expiresAt }, clock.now());
      return c.json({
        user,
        session: {
          id: created.id,
          createdAt: created.createdAt.toISOString(),
          expiresAt: created.expiresAt.toISOString(),
          restricted: true,
        },
        remaining,
      });
    },
  );

  return app;
}
