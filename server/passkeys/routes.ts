import { Hono } from 'hono';
import * as schemas from '../contract/schemas.js';
import { offerDeviceBinding } from '../dbsc/http.js';
import type { Deps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { requestContextOf } from '../http/front-door.js';
import { credentialIdOf, rateLimit, usernameOf } from '../http/rate-limit.js';
import { validBody } from '../http/validate.js';
import { setSessionCookie } from '../sessions/cookie.js';
import { finishAuthentication, startAuthentication } from './authentication.js';
import { passkeyManagementRoutes } from './manage-routes.js';
import { finishRegistration, startRegistration } from './registration.js';

/**
 * Mounted at `/auth`: the sign-up and sign-in ceremonies (`/register/*`, `/login/*`) and the
 * signed-in user's passkeys (`/passkeys`, server/passkeys/manage-routes.ts).
 */
export function passkeyRoutes(deps: Deps) {
  const { config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono<AppEnv>();
  const body = jsonBody(config);

  app.post(
    '/register/options',
    body,
    rateLimit(deps, { family: 'register', identifier: usernameOf, issuesChallenge: true }),
    validBody(schemas.registerOptionsRequest),
    async (c) => {
      return c.json(await startRegistration(deps, c.var.input));
    },
  );

  app.post(
    '/register/verify',
    body,
    rateLimit(deps, { family: 'register', identifier: credentialIdOf }),
    validBody(schemas.registrationResponse),
    async (c) => {
      const { user, token, session } = await finishRegistration(
        deps,
        c.var.input,
        requestContextOf(c, config.trustedProxies),
      );
      setSessionCookie(c, cookie, { token, expiresAt: session.expiresAt }, clock.now());
      await offerDeviceBinding(deps, c, session.id);
      return c.json({ user }, 201);
    },
  );

  // With LOGIN_ALLOW_CREDENTIALS=on a username is also counted per name, which slows down probing names.
  const loginOptionsLimit = rateLimit(deps, {
    family: 'login',
    issuesChallenge: true,
    ...(config.login.allowCredentials ? { identifier: usernameOf } : {}),
  });
  app.post('/login/options', body, loginOptionsLimit, validBody(schemas.loginOptionsRequest), async (c) => {
    // By default a username changes nothing in the answer (every passkey is discoverable), so it reveals nothing.
    return c.json(await startAuthentication(deps, { username: c.var.input.username }));
  });

  app.post(
    '/login/verify',
    body,
    rateLimit(deps, { family: 'login', identifier: credentialIdOf }),
    validBody(schemas.authenticationResponse),
    async (c) => {
      const { user, token, session, notice } = await finishAuthentication(
        deps,
        c.var.input,
        requestContextOf(c, config.trustedProxies),
      );
      setSessionCookie(c, cookie, { token, expiresAt: session.expiresAt }, clock.now());
      await offerDeviceBinding(deps, c, session.id);
      // `notice` (an addition to the contract, README "Risk signals") only when a risk signal has something to say.
      return c.json(notice === null ? { user } : { user, notice });
    },
  );

  app.route('/passkeys', passkeyManagementRoutes(deps));
  return app;
}
