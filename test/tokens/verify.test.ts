import { createPublicKey } from 'node:crypto';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokenError, createAccessTokenVerifier, verifyAccessToken } from '../../server/verify.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import {
  attackerKey,
  decodePart,
  handmadeToken,
  mintToken,
  realPrivateKey,
  serveOnLocalPort,
  signRawEs256,
  signWith,
} from './helpers.js';

let t: TestApp;
let auth: { url: string; close(): Promise<void> };
let attacker: { url: string; close(): Promise<void> };
let attackerHits = 0;
let resource: Hono;
let jwksUrl: string;
let cookie: string;
let userId: string;
let token: string;
let kid: string;

// A second service: it knows only the auth server's JWKS URL, issuer and audience.
function resourceService(): Hono {
  const verify = createAccessTokenVerifier({ jwks: jwksUrl, issuer: origin, audience: origin });
  const app = new Hono();
  app.get('/api/me', async (c) => {
    const match = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '');
    if (!match) return c.json({ error: 'missing_token' }, 401);
    try {
      const claims = await verify(match[1] as string, t.clock.now());
      return c.json({ sub: claims.sub, sid: claims.sid });
    } catch (error) {
      if (error instanceof AccessTokenError && error.code === 'jwks_unavailable')
        return c.json({ error: error.code }, 503);
      return c.json({ error: 'invalid_token' }, 401);
    }
  });
  return app;
}

const callApi = (bearer: string) => resource.request('/api/me', { headers: { Authorization: `Bearer ${bearer}` } });

beforeAll(async () => {
  t = await createTestApp({ INTROSPECTION_SECRET: 's'.repeat(40) });
  auth = await serveOnLocalPort(t.app);
  jwksUrl = `${auth.url}/.well-known/jwks.json`;
  const trap = new Hono();
  trap.all('*', (c) => {
    attackerHits++;
    return c.json({ keys: [] });
  });
  attacker = await serveOnLocalPort(trap);
  resource = resourceService();
  const signedUp = await t.signUp('resourceuser');
  cookie = signedUp.cookie;
  userId = signedUp.user.id;
  token = (await mintToken(t, cookie)).body.access_token;
  kid = decodePart(token, 0).kid as string;
});
afterAll(async () => {
  await auth?.close();
  await attacker?.close();
  await t?.close();
});

/** Claims as the server would issue them, to tamper with one at a time. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(t.clock.now().getTime() / 1000);
  return {
    iss: origin,
    aud: origin,
    sub: userId,
    sid: 'x'.repeat(20),
    iat: now,
    exp: now + 300,
    jti: 'j'.repeat(22),
    ...overrides,
  };
}

describe('a resource service verifying through the JWKS URL', () => {
  it('accepts a token from POST /auth/token', async () => {
    const response = await callApi(token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: userId, sid: decodePart(token, 1).sid });
  });

  it('verifies with verifyAccessToken given the URL, a JWKS object or a key getter', async () => {
    const jwks = await (await fetch(jwksUrl)).json();
    for (const source of [jwksUrl, new URL(jwksUrl), jwks]) {
      const verified = await verifyAccessToken(token, {
        jwks: source,
        issuer: origin,
        audience: [origin, 'other'],
        currentDate: t.clock.now(),
      });
      expect(verified.sub).toBe(userId);
    }
  });

  it('refuses an expired token, within the clock tolerance only', async () => {
    const verify = createAccessTokenVerifier({ jwks: jwksUrl, issuer: origin, audience: origin });
    const exp = (decodePart(token, 1).exp as number) * 1000;
    await expect(verify(token, new Date(exp + 4_000))).resolves.toBeTruthy();
    await expect(verify(token, new Date(exp + 6_000))).rejects.toMatchObject({
      name: 'AccessTokenError',
      code: 'invalid_token',
    });
  });

  it('answers jwks_unavailable (not invalid_token) when the JWKS cannot be fetched', async () => {
    const verify = createAccessTokenVerifier({
      jwks: 'http://127.0.0.1:1/.well-known/jwks.json',
      issuer: origin,
      audience: origin,
    });
    await expect(verify(token, t.clock.now())).rejects.toMatchObject({ code: 'jwks_unavailable' });
  });

  it('refuses a JWKS URL over plain http to another host', () => {
    expect(() =>
      createAccessTokenVerifier({ jwks: 'http://auth.example.com/jwks.json', issuer: origin, audience: origin }),
    ).toThrow(TypeError);
  });
});

describe('hostile tokens are refused by the resource service and by introspection', () => {
  const hostile: [string, () => Promise<string>][] = [
    ['alg none', async () => handmadeToken({ alg: 'none', typ: 'at+jwt', kid }, claims())],
    ['alg none without a kid', async () => handmadeToken({ alg: 'none' }, claims())],
    [
      'HS256 signed with the public key as the secret',
      async () => {
        const jwk = (await (await fetch(jwksUrl)).json()).keys[0];
        const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
        return handmadeToken({ alg: 'HS256', typ: 'at+jwt', kid }, claims(), pem);
      },
    ],
    [
      'HS256 signed with the JWK text as the secret',
      async () =>
        handmadeToken(
          { alg: 'HS256', typ: 'at+jwt', kid },
          claims(),
          JSON.stringify((await (await fetch(jwksUrl)).json()).keys[0]),
        ),
    ],
    [
      'an unknown kid',
      async () => signWith(attackerKey().privateKey, { alg: 'ES256', typ: 'at+jwt', kid: 'unknown-kid' }, claims()),
    ],
    [
      'a path-like kid',
      async () =>
        signWith(attackerKey().privateKey, { alg: 'ES256', typ: 'at+jwt', kid: '../../../etc/passwd' }, claims()),
    ],
    [
      'a URL kid',
      async () =>
        signWith(attackerKey().privateKey, { alg: 'ES256', typ: 'at+jwt', kid: `${attacker.url}/key` }, claims()),
    ],
    [
      'a jku header pointing elsewhere',
      async () =>
        signWith(
          attackerKey().privateKey,
          { alg: 'ES256', typ: 'at+jwt', kid, jku: `${attacker.url}/jwks.json` },
          claims(),
        ),
    ],
    [
      'an x5u header',
      async () =>
        signWith(
          attackerKey().privateKey,
          { alg: 'ES256', typ: 'at+jwt', kid, x5u: `${attacker.url}/cert.pem` },
          claims(),
        ),
    ],
    [
      'an embedded jwk header',
      async () => {
        const key = attackerKey();
        return signWith(key.privateKey, { alg: 'ES256', typ: 'at+jwt', kid, jwk: key.publicJwk as never }, claims());
      },
    ],
    [
      'a real key with a jku header',
      async () =>
        signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid, jku: `${attacker.url}/jwks.json` },
          claims(),
        ),
    ],
    [
      'a wrong iss',
      async () =>
        signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ iss: 'https://evil.example' }),
        ),
    ],
    [
      'a wrong aud',
      async () =>
        signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ aud: 'https://other.example' }),
        ),
    ],
    [
      'an expired token',
      async () => {
        const now = Math.floor(t.clock.now().getTime() / 1000);
        return signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ iat: now - 400, exp: now - 100 }),
        );
      },
    ],
    [
      'nbf in the future',
      async () =>
        signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ nbf: Math.floor(t.clock.now().getTime() / 1000) + 120 }),
        ),
    ],
    [
      'iat in the future beyond the clock tolerance',
      async () => {
        const now = Math.floor(t.clock.now().getTime() / 1000);
        return signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ iat: now + 60, exp: now + 300 }),
        );
      },
    ],
    [
      'a lifetime over 300 s',
      async () => {
        const now = Math.floor(t.clock.now().getTime() / 1000);
        return signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ exp: now + 86_400 }),
        );
      },
    ],
    [
      'typ JWT',
      async () => signWith(await realPrivateKey(t.database.db, kid), { alg: 'ES256', typ: 'JWT', kid }, claims()),
    ],
    ['no typ', async () => signWith(await realPrivateKey(t.database.db, kid), { alg: 'ES256', kid }, claims())],
    [
      'an unknown crit',
      async () =>
        signRawEs256(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid, crit: ['urn:x-unknown'], 'urn:x-unknown': true },
          claims(),
        ),
    ],
    [
      'no sid',
      async () =>
        signWith(
          await realPrivateKey(t.database.db, kid),
          { alg: 'ES256', typ: 'at+jwt', kid },
          claims({ sid: undefined }),
        ),
    ],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = token.split('.');
        return `${h}.${Buffer.from(JSON.stringify(claims({ sub: '00000000-0000-0000-0000-000000000000' }))).toString('base64url')}.${s}`;
      },
    ],
    ['the session cookie as a bearer token', async () => cookie.split('=')[1] as string],
    ['garbage', async () => 'not.a.jwt'],
  ];

  it('accepts the control: a token signed with the real key, the right header and the right claims', async () => {
    const control = await signWith(
      await realPrivateKey(t.database.db, kid),
      { alg: 'ES256', typ: 'at+jwt', kid },
      claims(),
    );
    expect((await callApi(control)).status).toBe(200);
  });

  for (const [name, make] of hostile) {
    it(`refuses ${name}`, async () => {
      const forged = await make();
      const before = attackerHits;
      const response = await callApi(forged);
      expect(response.status).toBe(401);
      await expect(
        verifyAccessToken(forged, { jwks: jwksUrl, issuer: origin, audience: origin, currentDate: t.clock.now() }),
      ).rejects.toMatchObject({ code: 'invalid_token' });
      const introspection = await t.app.request('/auth/introspect', {
        method: 'POST',
        headers: { Authorization: `Bearer ${'s'.repeat(40)}`, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: forged }).toString(),
      });
      expect(await introspection.json()).toEqual({ active: false });
      // Nothing was fetched from anywhere but the configured JWKS URL.
      expect(attackerHits).toBe(before);
    });
  }
});
