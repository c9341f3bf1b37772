import { Hono } from 'hono';
import { errors, type JWTVerifyGetKey } from 'jose';
import type { Deps } from '../server/deps.js';
import { AuthError } from '../server/errors.js';
import type { AppEnv } from '../server/http/env.js';
import { errorResponse } from '../server/http/errors.js';
import { createKeyStore } from '../server/tokens/keys.js';
import { AccessTokenError, createAccessTokenVerifier } from '../server/verify.js';

/**
 * Routes for `npm run bench` only, mounted by server/main.ts (through `createApp`'s `routes`) when
 * `BENCH_ROUTES=1` and never otherwise. They sit behind the app's own front door (request id,
 * security headers, request log), so the baseline differs from `GET /auth/session` by the session
 * lookup alone.
 *
 * - `GET /bench/baseline`: no database work, the reference the ratios divide by.
 * - `GET /bench/protected`: a route protected by a Bearer access token, verified as a resource
 *   route inside this server would: `createAccessTokenVerifier` (server/verify.ts) over this
 *   instance's key store (public keys imported once per kid, the key set cached), so no database
 *   work once the key is cached. The verifier remembers verified tokens, as a resource service
 *   does by default, so a client's repeated token skips the signature check.
 * - `GET /bench/protected-fresh`: the same with `cacheSize: 0`, so every call parses the token and
 *   checks its signature, as for a token seen for the first time.
 */
export function benchRoutes(deps: Deps): Hono<AppEnv> {
  const { config, clock } = deps;
  const app = new Hono<AppEnv>();
  const keys = createKeyStore(deps);
  const getKey: JWTVerifyGetKey = async (header) => {
    const found = typeof header.kid === 'string' ? await keys.verificationKey(header.kid) : null;
    if (found === null || found.alg !== header.alg) throw new errors.JWKSNoMatchingKey();
    return found.key;
  };
  const options = { jwks: getKey, issuer: config.origins[0] as string, audience: config.tokens.audience };
  const verifiers = {
    '/bench/protected': createAccessTokenVerifier(options),
    '/bench/protected-fresh': createAccessTokenVerifier({ ...options, cacheSize: 0 }),
  };

  app.get('/bench/baseline', (c) => c.json({ ok: true }));

  for (const [path, verify] of Object.entries(verifiers)) {
    app.get(path, async (c) => {
      const authorization = c.req.header('authorization') ?? '';
      const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
      try {
        const claims = await verify(token, clock.now());
        return c.json({ sub: claims.sub });
      } catch (error) {
        if (error instanceof AccessTokenError) return errorResponse(c, new AuthError('unauthenticated'));
        throw error;
      }
    });
  }

  return app;
}
