import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { bodyObject, jsonBody } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { credentialIdOf, rateLimit, usernameOf } from '../http/rate-limit.js';
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
  const body = jsonBody({ origins: config.origins });

  app.post('/register/options', body, rateLimit(deps, { family: 'register', identifier: usernameOf, issuesChallenge: true }), async (c) => {
    const input = bodyObject(c.var.body);
    return c.json(await startRegistration(deps, { username: input.username, displayName: input.displayName }));
  });

  app.post('/register/verify', body, rateLimit(deps, { family: 'register', identifier: credentialIdOf }), async (c) => {
    const { user, token, session } = await finishRegistration(deps, c.var.body, c.var.requestContext);
    setSessionCookie(c, cookie, token, session.expiresAt, clock.now());
    return c.json({ user }, 201);
  });

  app.post('/login/options', body, rateLimit(deps, { family: 'login', issuesChallenge: true }), async (c) => {
    const input = bodyObject(c.var.body);
    // A username changes nothing in the answer (every passkey is discoverable), so it reveals nothing.
    if (input.username !== undefined && typeof input.username !== 'string') throw new AuthError('invalid_request', 'username must be a string.');
    return c.json(await startAuthentication(deps));
  });

  app.post('/login/verify', body, rateLimit(deps, { family: 'login', identifier: credentialIdOf }), async (c) => {
    const { user, token, session, notice } = await finishAuthentication(deps, c.var.body, c.var.requestContext);
    setSessionCookie(c, cookie, token, session.expiresAt, clock.now());
    // `notice` (an addition to the contract, README "Risk signals") only when a risk signal has something to say.
    return c.json(notice === null ? { user } : { user, notice });
  });

  app.route('/passkeys', passkeyManagementRoutes(deps));
  return app;
}
