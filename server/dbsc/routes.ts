import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import type { AppEnv } from '../http/env.js';
import { errorResponse } from '../http/errors.js';
import { requestContextOf } from '../http/front-door.js';
import { readSessionCookie } from '../sessions/cookie.js';
import { findDeviceBinding } from '../sessions/device-binding-repository.js';
import { validateSessionToken } from '../sessions/service.js';
import { setBoundCookie } from './http.js';
import { readSfString, sessionInstructions } from './protocol.js';
import { issueRefreshChallenge, refreshBoundCookie, registerDeviceKey } from './service.js';

const jwtPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const sessionIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const maxProofLength = 8192;

/**
 * Mounted at `/auth/dbsc`: the DBSC endpoints `/register` and `/refresh` (docs/dbsc.md; their full
 * paths, which the headers name, are in protocol.ts), present only with `DBSC=on`. The browser posts
 * to them by itself, with no body; they are outside the Origin rule of the contract's CSRF check, like
 * introspection, because each request is authenticated by a signature over a single-use challenge
 * the server gave this session: a cross-site page can make a browser post here but cannot sign.
 */
export function dbscRoutes(deps: Deps) {
  const { db, config, clock, logger } = deps;
  const app = new Hono<AppEnv>();
  if (!config.dbsc.enabled) return app;
  const sessionCookie = { name: config.session.cookieName };
  const proofOf = (raw: string | undefined) =>
    raw !== undefined && raw.length > maxProofLength ? null : readSfString(raw, jwtPattern);

  app.post('/register', async (c) => {
    const now = clock.now();
    const token = readSessionCookie(c, sessionCookie);
    const validated = token === null ? null : await validateSessionToken(db, config.session, token, { now });
    if (validated === null) throw new AuthError('unauthenticated');
    const proof = proofOf(c.req.header('secure-session-response'));
    if (proof === null)
      throw new AuthError('invalid_request', 'Secure-Session-Response must carry the registration JWT.');
    const { session, user } = validated;
    const cookie = await registerDeviceKey(
      deps,
      {
        sessionId: session.id,
        userId: user.id,
        proof,
        authorizationHeader: c.req.header('authorization') ?? null,
        context: requestContextOf(c, config.trustedProxies),
      },
      now,
    );
    setBoundCookie(c, config.dbsc.cookieName, cookie, now);
    logger.info({ userId: user.id, sessionId: session.id }, 'session bound to a device key');
    return c.json(sessionInstructions(session.id, config.dbsc.cookieName));
  });

  app.post('/refresh', async (c) => {
    const now = clock.now();
    const sessionId = readSfString(c.req.header('sec-secure-session-id'), sessionIdPattern);
    if (sessionId === null) throw new AuthError('invalid_request', 'Sec-Secure-Session-Id must name the session.');
    const token = readSessionCookie(c, sessionCookie);
    const validated = token === null ? null : await validateSessionToken(db, config.session, token, { now });
    const binding = validated?.session.id === sessionId ? await findDeviceBinding(db, sessionId) : null;
    // Revoked, expired, signed out, replaced by a newer sign-in, or never bound: the browser ends this DBSC session.
    if (binding === null || binding.publicKey === null) return c.json({ continue: false });

    const proof = proofOf(c.req.header('secure-session-response'));
    if (proof === null) {
      c.header('Secure-Session-Challenge', await issueRefreshChallenge(deps, sessionId, now));
      return errorResponse(
        c,
        new AuthError('reauthentication_required', 'Sign the Secure-Session-Challenge with the session key.'),
      );
    }
    const cookie = await refreshBoundCookie(deps, { sessionId, publicKey: binding.publicKey, proof }, now);
    setBoundCookie(c, config.dbsc.cookieName, cookie, now);
    return c.json(sessionInstructions(sessionId, config.dbsc.cookieName));
  });

  return app;
}
