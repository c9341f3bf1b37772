import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { decodePart, mintToken, sessionIdOf } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('POST /auth/token', () => {
  it('answers a bearer JWT with typ at+jwt, a published kid and the contract claims', async () => {
    const { cookie, user } = await t.signUp('tokenuser');
    const { response, body } = await mintToken(t, cookie);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300 });

    const header = decodePart(body.access_token, 0);
    expect(header).toEqual({ alg: 'ES256', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), typ: 'at+jwt' });
    const jwks = await (await t.get('/.well-known/jwks.json')).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);

    const claims = decodePart(body.access_token, 1);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    expect(claims).toEqual({
      iss: origin,
      aud: origin,
      sub: user.id,
      sid: sessionIdOf(cookie),
      iat: now,
      exp: now + 300,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
  });

  it('gives every token its own jti', async () => {
    const { cookie } = await t.signUp('jtiuser');
    const first = await mintToken(t, cookie);
    const second = await mintToken(t, cookie);
    expect(decodePart(first.body.access_token, 1).jti).not.toBe(decodePart(second.body.access_token, 1).jti);
  });

  it('refuses a request without a session cookie with 401 unauthenticated', async () => {
    const response = await t.post('/auth/token');
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('unauthenticated');
  });

  it('applies the CSRF rule before anything else', async () => {
    const { cookie } = await t.signUp('csrfuser');
    const crossSite = await t.request('POST', '/auth/token', { cookie, headers: { Origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect((await crossSite.json()).error.code).toBe('csrf');
    const noHeaders = await t.app.request('/auth/token', { method: 'POST', headers: { Cookie: cookie } });
    expect(noHeaders.status).toBe(403);
  });

  it('answers 405 to a GET', async () => {
    const response = await t.get('/auth/token');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('POST');
  });

  it('refuses a body that is not a JSON object', async () => {
    const { cookie } = await t.signUp('bodyuser');
    const response = await t.request('POST', '/auth/token', { cookie, body: '[1]' });
    expect(response.status).toBe(400);
    // The body is checked before the session (the contract's order).
    expect((await t.request('POST', '/auth/token', { body: '[1]' })).status).toBe(400);
    expect(
      (await t.request('POST', '/auth/token', { cookie, body: 'x', headers: { 'Content-Type': 'text/plain' } })).status,
    ).toBe(415);
  });

  it('refuses a revoked session at once', async () => {
    const { cookie } = await t.signUp('revokeduser');
    expect((await mintToken(t, cookie)).response.status).toBe(200);
    expect((await t.post('/auth/logout', undefined, cookie)).status).toBe(204);
    const { response, body } = await mintToken(t, cookie);
    expect(response.status).toBe(401);
    expect(body).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
  });

  it('refuses the session of a disabled user at once', async () => {
    const { cookie, user } = await t.signUp('disableduser');
    await t.database.db.updateTable('app_user').set({ disabled_at: t.clock.now() }).where('id', '=', user.id).execute();
    expect((await mintToken(t, cookie)).response.status).toBe(401);
  });

  it('refuses an expired session', async () => {
    const { cookie } = await t.signUp('idleuser');
    t.clock.advance(7 * 86_400 + 1);
    expect((await mintToken(t, cookie)).response.status).toBe(401);
  });

  it('takes the audience, lifetime and algorithm from the configuration', async () => {
    const other = await createTestApp({
      TOKEN_AUDIENCE: 'https://api.example.com',
      TOKEN_LIFETIME: '60',
      TOKEN_ALGORITHM: 'EdDSA',
    });
    try {
      const { cookie } = await other.signUp('configured');
      const { body } = await mintToken(other, cookie);
      expect(body.expires_in).toBe(60);
      expect(decodePart(body.access_token, 0).alg).toBe('EdDSA');
      const claims = decodePart(body.access_token, 1);
      expect(claims.aud).toBe('https://api.example.com');
      expect((claims.exp as number) - (claims.iat as number)).toBe(60);
      const jwks = await (await other.get('/.well-known/jwks.json')).json();
      expect(jwks.keys).toEqual([
        { kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: expect.any(String), alg: 'EdDSA', use: 'sig' },
      ]);
    } finally {
      await other.close();
    }
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('publishes public keys only, with unique kids, alg and use, and a bounded Cache-Control', async () => {
    const response = await t.get('/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const { keys } = await response.json();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toEqual({
        kty: 'EC',
        crv: 'P-256',
        x: expect.any(String),
        y: expect.any(String),
        kid: expect.any(String),
        alg: 'ES256',
        use: 'sig',
      });
      expect(key).not.toHaveProperty('d');
    }
    expect(new Set(keys.map((k: { kid: string }) => k.kid)).size).toBe(keys.length);
  });

  it('answers 405 to a POST', async () => {
    expect((await t.post('/.well-known/jwks.json')).status).toBe(405);
  });
});
