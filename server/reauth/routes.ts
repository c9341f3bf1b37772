import { Hono, type Context } from 'hono';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import { requestContext } from '../http/client-address.js';
import { credentialIdOf, rateLimit } from '../http/rate-limit.js';
import { requireSession, type SessionVariables } from '../http/session.js';
import { finishReauthentication, startReauthentication } from './service.js';

/** Step-up: `POST /auth/reauth/options` and `/auth/reauth/verify`. */
export function reauthRoutes(deps: Deps) {
  const { config } = deps;
  const app = new Hono<{ Variables: SessionVariables & { body: unknown } }>();
  const body = jsonBody(config);
  // A session held for a re-verification by a risk signal (README "Risk signals") may of course re-verify.
  const session = requireSession(deps, { allowStepUp: true });
  const context = (c: Context<any>) => requestContext(c, config.trustedProxies);

  app.post('/auth/reauth/options', body, session, rateLimit(deps, { family: 'reauth', issuesChallenge: true }), async (c) =>
    c.json(await startReauthentication(deps, c.var.session)),
  );

  app.post('/auth/reauth/verify', body, session, rateLimit(deps, { family: 'reauth', identifier: credentialIdOf }), async (c) => {
    const { verifiedAt } = await finishReauthentication(deps, c.var.session, c.var.body, context(c));
    return c.json({ verifiedAt: verifiedAt.toISOString() });
  });

  return app;
}
