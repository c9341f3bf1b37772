import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { credentialIdOf, rateLimit } from '../http/rate-limit.js';
import { validBody } from '../http/validate.js';
import { requireSession } from '../sessions/gate.js';
import { finishReauthentication, startReauthentication } from './service.js';

/** Mounted at `/auth/reauth`: the step-up, `POST /options` and `POST /verify`. */
export function reauthRoutes(deps: Deps) {
  const { config } = deps;
  const app = new Hono<AppEnv>();
  const body = jsonBody(config);
  // A session held for a re-verification by a risk signal (README "Risk signals") may of course re-verify.
  const session = requireSession(deps, { allowStepUp: true });

  app.post(
    '/options',
    body,
    session,
    rateLimit(deps, { family: 'reauth', issuesChallenge: true }),
    validBody(schemas.emptyRequest),
    async (c) => c.json(await startReauthentication(deps, c.var.session)),
  );

  app.post(
    '/verify',
    body,
    session,
    rateLimit(deps, { family: 'reauth', identifier: credentialIdOf }),
    validBody(schemas.authenticationResponse),
    async (c) => {
      const { verifiedAt } = await finishReauthentication(
        deps,
        c.var.session,
        c.var.input,
        requestContextOf(c, config.trustedProxies),
      );
      return c.json({ verifiedAt: verifiedAt.toISOString() });
    },
  );

  return app;
}
