/**
 * A separate service that accepts the auth server's access tokens: it verifies them locally with
 * passkey-auth-verify against the auth server's JWKS URL (no database, no call per request), and
 * asks the auth server through introspection when INTROSPECTION_SECRET is set.
 *
 *   AUTH_URL=http://localhost:3000 PORT=4000 node --import tsx examples/resource-service/server.ts
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { type AccessTokenClaims, AccessTokenError, createAccessTokenVerifier, introspect } from 'passkey-auth-verify';

const authUrl = process.env.AUTH_URL ?? 'http://localhost:3000';
const port = Number(process.env.PORT ?? 4000);
const introspectionSecret = process.env.INTROSPECTION_SECRET;

const verify = createAccessTokenVerifier({
  jwks: new URL('/.well-known/jwks.json', authUrl),
  issuer: new URL(authUrl).origin,
  // The auth server's TOKEN_AUDIENCE; it defaults to its origin.
  audience: process.env.TOKEN_AUDIENCE ?? new URL(authUrl).origin,
});

const app = new Hono<{ Variables: { claims: AccessTokenClaims } }>();

app.use('/api/*', async (c, next) => {
  const token = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '')?.[1];
  if (token === undefined) {
    c.header('WWW-Authenticate', 'Bearer');
    return c.json({ error: { code: 'unauthenticated', message: 'A Bearer access token is required.' } }, 401);
  }
  try {
    c.set('claims', await verify(token));
  } catch (error) {
    if (error instanceof AccessTokenError && error.code === 'jwks_unavailable') {
      return c.json({ error: { code: 'unavailable', message: 'The auth server cannot be reached.' } }, 503);
    }
    c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
    return c.json({ error: { code: 'invalid_token', message: 'The access token is not valid.' } }, 401);
  }
  return next();
});

app.get('/api/data', (c) => c.json({ user: c.var.claims.sub, session: c.var.claims.sid }));

// A sensitive action checks with the auth server that the session is still live (RFC 7662).
app.post('/api/transfer', async (c) => {
  if (introspectionSecret === undefined)
    return c.json({ error: { code: 'unavailable', message: 'Introspection is not configured.' } }, 503);
  const token = (c.req.header('authorization') ?? '').slice('Bearer '.length);
  const result = await introspect(token, {
    endpoint: new URL('/auth/introspect', authUrl),
    secret: introspectionSecret,
  });
  if (!result.active)
    return c.json({ error: { code: 'invalid_token', message: 'The session behind this token has ended.' } }, 401);
  return c.json({ done: true, by: result.username });
});

const server = serve({ fetch: app.fetch, port }, (info) =>
  console.log(`resource service on http://localhost:${info.port}`),
);
process.once('SIGTERM', () => server.close());
process.once('SIGINT', () => server.close());
