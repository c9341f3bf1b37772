import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { rateLimit } from '../http/rate-limit.js';
import { validBody } from '../http/validate.js';
import { clearSessionCookie, setSessionCookie } from '../sessions/cookie.js';
import { requireSession } from '../sessions/gate.js';
import {
  deletePasskey,
  finishPasskeyRegistration,
  listPasskeys,
  renamePasskey,
  startPasskeyRegistration,
} from './management.js';

/** Mounted at `/auth/passkeys`: the signed-in user's passkeys: list, add (also in a recovery session), rename, delete. */
export function passkeyManagementRoutes(deps: Deps) {
  const { config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono<AppEnv>();
  const body = jsonBody(config);
  const session = requireSession(deps);
  // Adding a passkey is what a recovery session is for.
  const sessionOrRecovery = requireSession(deps, { allowRecovery: true });

  app.get('/', session, async (c) => c.json(await listPasskeys(deps, c.var.session)));

  app.post(
    '/options',
    body,
    sessionOrRecovery,
    rateLimit(deps, { family: 'passkey', issuesChallenge: true }),
    validBody(schemas.emptyRequest),
    async (c) => c.json(await startPasskeyRegistration(deps, c.var.session)),
  );

  app.post(
    '/verify',
    body,
    sessionOrRecovery,
    rateLimit(deps, { family: 'passkey' }),
    validBody(schemas.registrationResponse),
    async (c) => {
      const { passkey, replacement } = await finishPasskeyRegistration(
        deps,
        c.var.session,
        c.var.input,
        requestContextOf(c, config.trustedProxies),
      );
      if (replacement)
        setSessionCookie(
          c,
          cookie,
          { token: replacement.token, expiresAt: replacement.session.expiresAt },
          clock.now(),
        );
      return c.json({ passkey }, 201);
    },
  );

  app.patch('/:id', body, session, validBody(schemas.renamePasskeyRequest), async (c) =>
    c.json({
      passkey: await renamePasskey(
        deps,
        c.var.session,
        { ...c.var.input, id: c.req.param('id') },
        requestContextOf(c, config.trustedProxies),
      ),
    }),
  );

  app.delete('/:id', body, session, validBody(schemas.emptyRequest), async (c) => {
    const { currentSessionRevoked } = await deletePasskey(
      deps,
      c.var.session,
      c.req.param('id'),
      requestContextOf(c, config.trustedProxies),
    );
    if (currentSessionRevoked) clearSessionCookie(c, cookie);
    return c.body(null, 204);
  });

  return app;
}
