import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import type { AppEnv } from '../http/env.js';
import { authenticateRequest } from './gate.js';

/**
 * `GET /auth/session/status` (an addition to the contract): the same answer as `GET /auth/session`
 * when signed in, plus `"signedIn": true` and `"restricted"` (a recovery session), and
 * `200 {"signedIn": false}` when not. A page can ask "am I signed in?" on load without a 401, which
 * browsers log as a console error. The checks are `requireSession`'s (authenticateRequest): a dead
 * cookie is cleared, and the risk policy applies (a held session says `stepUpRequired: true`).
 */
export function sessionStatusRoutes(deps: Pick<Deps, 'db' | 'config' | 'clock'>) {
  const app = new Hono<AppEnv>();

  app.get('/session/status', async (c) => {
    const authenticated = await authenticateRequest(deps, c);
    if (authenticated === null) return c.json({ signedIn: false });
    const {
      validated: { user, session },
      stepUpRequired,
    } = authenticated;
    return c.json({
      signedIn: true,
      restricted: session.kind === 'recovery',
      user,
      session: {
        id: session.id,
        createdAt: session.createdAt.toISOString(),
        expiresAt: session.expiresAt.toISOString(),
        ...(stepUpRequired ? { stepUpRequired: true } : {}),
      },
    });
  });

  return app;
}
