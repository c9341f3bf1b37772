/**
 * The limit of the access-token route for the side-by-side in `npm run bench`: a bare Hono app on
 * the same `@hono/node-server` that checks the Bearer token's ES256 signature with the auth server's
 * public key (given as a JWK in `BENCH_JWK`) through `node:crypto` at its cheapest (synchronous, one
 * imported `KeyObject`), and answers its `sub` as JSON. No header or claim checks, no middleware:
 * what the access-token route costs beyond this is its own work (jose's checks, the app's
 * middleware); what this costs beyond bare Hono is the signature verification itself.
 */
import { createPublicKey, verify } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const key = createPublicKey({ key: JSON.parse(process.env.BENCH_JWK ?? '{}'), format: 'jwk' });
const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.get('/verify', (c) => {
  const authorization = c.req.header('authorization') ?? '';
  const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
  const [header, payload, signature] = token.split('.');
  const valid =
    header !== undefined &&
    payload !== undefined &&
    signature !== undefined &&
    verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
  if (!valid) return c.json({ error: { code: 'unauthenticated', message: 'bad token' } }, 401);
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub?: string };
  return c.json({ sub: claims.sub });
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
