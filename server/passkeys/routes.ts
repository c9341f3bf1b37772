import { Hono, type Context } from 'hono';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { bodyObject, jsonBody } from '../http/body.js';
import { requestContext } from '../http/client-address.js';
import { credentialIdOf, rateLimit, usernameOf } from '../http/rate-limit.js';
import { setSessionCookie } from '../sessions/cookie.js';
import { offerDeviceBinding } from '../dbsc/http.js';
import { finishAuthentication, startAuthentication } from './authentication.js';
import { finishRegistration, startRegistration } from './registration.js';

/** Sign-up and sign-in ceremonies: `/auth/register/*` and `/auth/login/*`. */
export function ceremonyRoutes(deps: Deps) {
  const { config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono<{ Variables: { body: unknown } }>();
  const body = jsonBody(config);
  const context = (c: Context<any>) => requestContext(c, config.trustedProxies);

  app.post('/auth/register/options', body, rateLimit(deps, { family: 'register', identifier: usernameOf, issuesChallenge: true }), async (c) => {
    const input = bodyObject(c.var.body);
    return c.json(await startRegistration(deps, { username: input.username, displayName: input.displayName }));
  });

  app.post('/auth/register/verify', body, rateLimit(deps, { family: 'register', identifier: credentialIdOf }), async (c) => {
    const { user, token, session } = await finishRegistration(deps, c.var.body, context(c));
    setSessionCookie(c, cookie, token, session.expiresAt, clock.now());
    await offerDeviceBinding(deps, c, session.id);
    return c.json({ user }, 201);
  });

  // With LOGIN_ALLOW_CREDENTIALS=on a username is also counted per name, which slows down probing names.
  const loginOptionsLimit = rateLimit(deps, { family: 'login', issuesChallenge: true, ...(config.login.allowCredentials ? { identifier: usernameOf } : {}) });
  app.post('/auth/login/options', body, loginOptionsLimit, async (c) => {
    const input = bodyObject(c.var.body);
    // By default a username changes nothing in the answer (every passkey is discoverable), so it reveals nothing.
    if (input.username !== undefined && typeof input.username !== 'string') throw new AuthError('invalid_request', 'username must be a string.');
    return c.json(await startAuthentication(deps, { username: input.username }));
  });

  app.post('/auth/login/verify', body, rateLimit(deps, { family: 'login', identifier: credentialIdOf }), async (c) => {
    const { user, token, session, notice } = await finishAuthentication(deps, c.var.body, context(c));
    setSessionCookie(c, cookie, token, session.expiresAt, clock.now());
    await offerDeviceBinding(deps, c, session.id);
    // `notice` (an addition to the contract, README "Risk signals") only when a risk signal has something to say.
    return c.json(notice === null ? { user } : { user, notice });
  });

  return app;
}
