import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntrospectionError, introspect } from '../../server/verify.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { mintToken } from './helpers.js';

// introspect() of passkey-auth-verify, against the real endpoint (the app answers its fetch).
const secret = 'introspection-secret-0123456789-abcdefghij';
const endpoint = 'http://localhost:3000/auth/introspect';
let t: TestApp;
let fetchApp: typeof fetch;
beforeAll(async () => {
  t = await createTestApp({ INTROSPECTION_SECRET: secret });
  fetchApp = (async (input: string | URL | Request, init?: RequestInit) =>
    t.app.request(String(input), init)) as typeof fetch;
});
afterAll(async () => {
  await t?.close();
});

describe('introspect()', () => {
  it('answers active with the user for a live token, and inactive once its session is revoked', async () => {
    const { cookie, user } = await t.signUp('helper');
    const { body } = await mintToken(t, cookie);
    const active = await introspect(body.access_token, { endpoint, secret, fetch: fetchApp });
    expect(active).toMatchObject({ active: true, sub: user.id, username: 'helper', token_type: 'Bearer' });
    expect((await t.post('/auth/logout', {}, cookie)).status).toBe(204);
    expect(await introspect(body.access_token, { endpoint, secret, fetch: fetchApp })).toEqual({ active: false });
    expect(await introspect('not-a-token', { endpoint, secret, fetch: fetchApp })).toEqual({ active: false });
    expect(await introspect('', { endpoint, secret, fetch: fetchApp })).toEqual({ active: false });
  });

  it('throws unauthorized for a refused secret and unavailable when the server cannot answer', async () => {
    const wrong = await introspect('x.y.z', { endpoint, secret: 'w'.repeat(40), fetch: fetchApp }).catch(
      (e: unknown) => e,
    );
    expect(wrong).toBeInstanceOf(IntrospectionError);
    expect(wrong).toMatchObject({ code: 'unauthorized' });
    const down = await introspect('x.y.z', { endpoint: 'http://127.0.0.1:9/auth/introspect', secret }).catch(
      (e: unknown) => e,
    );
    expect(down).toMatchObject({ name: 'IntrospectionError', code: 'unavailable' });
    const failing = (async () => new Response('oops', { status: 502 })) as unknown as typeof fetch;
    await expect(introspect('x.y.z', { endpoint, secret, fetch: failing })).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('refuses a plain-http endpoint that is not loopback', async () => {
    await expect(introspect('x.y.z', { endpoint: 'http://auth.example.com/auth/introspect', secret })).rejects.toThrow(
      TypeError,
    );
  });
});
