import { Hono } from 'hono';
import { emptyRequest, introspectionRequest } from '../contract/schemas.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { checkJson, jsonBody, maxBodyBytes, readLimited } from '../http/body.js';
import type { AppEnv } from '../http/env.js';
import { parseInput, validBody } from '../http/validate.js';
import { setSessionCookie } from '../sessions/cookie.js';
import { requireSession } from '../sessions/gate.js';
import { issueAccessToken } from './access-token.js';
import { introspectToken } from './introspection.js';
import { createKeyStore, type KeyStore } from './keys.js';

/**
 * Mounted at `/`: `POST /auth/token`, `GET /.well-known/jwks.json` and `POST /auth/introspect` (README "Access tokens").
 * The key store is this instance's cache of the signing keys every instance shares in the database.
 */
export function tokenRoutes(deps: Deps, keys: KeyStore = createKeyStore(deps)) {
  const { config, clock } = deps;
  const cookie = { name: config.session.cookieName };
  const app = new Hono<AppEnv>();

  // The contract's order: CSRF, 413, 415, 400 (the body, which has no fields, must be an object), then the session.
  app.post('/auth/token', jsonBody(config), validBody(emptyRequest), requireSession(deps), async (c) => {
    const issued = await issueAccessToken(
      { ...deps, keys },
      {
        user: c.var.user,
        session: c.var.session,
        sessionToken: c.var.sessionToken,
        secret: c.var.sessionSecret,
      },
    );
    if (issued.rotatedSessionToken !== null) {
      // The successor replaces whatever cookie requireSession may have refreshed with the old secret.
      c.header('Set-Cookie', undefined);
      setSessionCookie(
        c,
        cookie,
        { token: issued.rotatedSessionToken, expiresAt: c.var.session.expiresAt },
        clock.now(),
      );
    }
    return c.json({ access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn });
  });

  app.get('/.well-known/jwks.json', async (c) => {
    const jwks = await keys.publicJwks();
    // Bounded, so a verifier learns a new key within this age; rotation waits at least this long.
    c.header('Cache-Control', `public, max-age=${config.tokens.jwksMaxAge}`);
    return c.json({ keys: jwks });
  });

  // Services authenticate with their own secret, so the browser CSRF rule does not apply (contract).
  app.post('/auth/introspect', async (c) => {
    const token = await readIntrospectionRequest(c.req.raw);
    const result = await introspectToken({ ...deps, keys }, { authorization: c.req.header('authorization'), token });
    return c.json(result);
  });

  return app;
}

/**
 * The `token` of an introspection request, as RFC 7662 sends it (`application/x-www-form-urlencoded`)
 * or as JSON, with the contract's order of refusals: 413, 415, 400.
 */
async function readIntrospectionRequest(request: Request): Promise<string> {
  const length = request.headers.get('content-length');
  if (length !== null && Number(length) > maxBodyBytes) throw new AuthError('payload_too_large');
  const bytes = await readLimited(request.body);
  const type = request.headers.get('content-type') ?? '';
  const form = /^application\/x-www-form-urlencoded\s*(;|$)/i.test(type);
  const json = /^application\/json\s*(;|$)/i.test(type);
  if (bytes.byteLength > 0 && !form && !json)
    throw new AuthError(
      'unsupported_media_type',
      'The body must be application/x-www-form-urlencoded or application/json.',
    );
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AuthError('invalid_request', 'The body is not UTF-8.');
  }
  let body: unknown = {};
  if (form) {
    body = Object.fromEntries(new URLSearchParams(text));
  } else if (bytes.byteLength > 0) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AuthError('invalid_request', 'The body is not valid JSON.');
    }
    checkJson(value, 0);
    body = value;
  }
  return parseInput(introspectionRequest, body).token;
}
