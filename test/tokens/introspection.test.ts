import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { checkedApp } from '../helpers/conformance.js';
import { decodePart, mintToken, sessionIdOf } from './helpers.js';

const secret = 'introspection-secret-0123456789-abcdefghij';
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ INTROSPECTION_SECRET: secret });
});
afterAll(async () => {
  await t?.close();
});

/** A service calling introspection: no Origin, no cookie, its own secret. */
function introspect(body: string, headers: Record<string, string> = {}) {
  return t.app.request('/auth/introspect', {
    method: 'POST',
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}
const form = (token: string) => new URLSearchParams({ token }).toString();

describe('POST /auth/introspect', () => {
  it('describes an active token in the RFC 7662 shape, for a service without Origin or cookie', async () => {
    const { cookie, user } = await t.signUp('introspected');
    const { body } = await mintToken(t, cookie);
    const response = await introspect(form(body.access_token));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const claims = decodePart(body.access_token, 1);
    expect(await response.json()).toEqual({
      active: true,
      sub: user.id,
      sid: sessionIdOf(cookie),
      username: 'introspected',
      iss: origin,
      aud: origin,
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
      token_type: 'Bearer',
    });
  });

  it('accepts JSON and Basic authentication too', async () => {
    const { cookie } = await t.signUp('basicauth');
    const { body } = await mintToken(t, cookie);
    const basic = Buffer.from(`resource-api:${encodeURIComponent(secret)}`).toString('base64');
    const response = await introspect(JSON.stringify({ token: body.access_token }), {
      Authorization: `Basic ${basic}`,
      'Content-Type': 'application/json',
    });
    expect((await response.json()).active).toBe(true);
  });

  it('answers active: false as soon as the session is revoked', async () => {
    const { cookie } = await t.signUp('revokedintro');
    const { body } = await mintToken(t, cookie);
    expect((await (await introspect(form(body.access_token))).json()).active).toBe(true);
    await t.post('/auth/logout', undefined, cookie);
    expect(await (await introspect(form(body.access_token))).json()).toEqual({ active: false });
  });

  it('answers active: false once the user is disabled or the token expired', async () => {
    const { cookie, user } = await t.signUp('disabledintro');
    const { body } = await mintToken(t, cookie);
    const other = await t.signUp('expiredintro');
    const expiring = (await mintToken(t, other.cookie)).body.access_token;
    await t.database.db.updateTable('app_user').set({ disabled_at: t.clock.now() }).where('id', '=', user.id).execute();
    expect(await (await introspect(form(body.access_token))).json()).toEqual({ active: false });
    t.clock.advance(306);
    expect(await (await introspect(form(expiring))).json()).toEqual({ active: false });
  });

  it('refuses callers without the service secret with 401', async () => {
    const { cookie } = await t.signUp('noauth');
    const { body } = await mintToken(t, cookie);
    for (const authorization of [
      undefined,
      `Bearer ${secret}x`,
      'Bearer wrong',
      `Basic ${Buffer.from(`x:wrong`).toString('base64')}`,
      secret,
    ]) {
      const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
      if (authorization) headers.Authorization = authorization;
      const response = await t.app.request('/auth/introspect', {
        method: 'POST',
        headers,
        body: form(body.access_token),
      });
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe('unauthenticated');
    }
  });

  it('refuses a session cookie in place of the service secret', async () => {
    const { cookie } = await t.signUp('cookiecaller');
    const { body } = await mintToken(t, cookie);
    const response = await t.app.request('/auth/introspect', {
      method: 'POST',
      headers: { Cookie: cookie, Origin: origin, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form(body.access_token),
    });
    expect(response.status).toBe(401);
  });

  it('checks the body in the contract order: 413, 415, 400', async () => {
    expect((await introspect(`token=${'a'.repeat(70_000)}`)).status).toBe(413);
    expect((await introspect('token=x', { 'Content-Type': 'text/plain' })).status).toBe(415);
    for (const bad of ['', 'token=', 'other=1']) expect((await introspect(bad)).status).toBe(400);
    expect((await introspect('{"token": 5}', { 'Content-Type': 'application/json' })).status).toBe(400);
    expect((await introspect('{nope', { 'Content-Type': 'application/json' })).status).toBe(400);
    expect((await introspect('token=x')).status).toBe(200);
  });

  it('is refused to everyone when no secret is configured', async () => {
    const unconfigured = checkedApp(createApp({ ...t.deps, config: loadConfig({ ORIGIN: origin }) }));
    for (const authorization of ['Bearer anything', `Bearer ${secret}`]) {
      const response = await unconfigured.request('/auth/introspect', {
        method: 'POST',
        headers: { Authorization: authorization, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'token=x',
      });
      expect(response.status).toBe(401);
    }
  });
});
