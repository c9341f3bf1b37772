import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator } from '../helpers/authenticator.js';
import { addPasskeyFrom, cookieOf, errorOf, signInFrom, signUpFrom, stepUpFrom } from './helpers.js';

const shop = 'https://shop.example.co.uk';
const blog = 'https://blog.example.net';
const unlisted = 'https://evil.example.org';
// A page on the related origin posting to this server served on that same origin.
const fromShop = { Origin: shop, 'Sec-Fetch-Site': 'same-origin' };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RELATED_ORIGINS: `${shop}, ${blog}` });
});
afterAll(async () => {
  await t?.close();
});

describe('RELATED_ORIGINS configuration', () => {
  const base = { ORIGIN: 'https://auth.example.com', RP_ID: 'example.com' };
  it('is empty by default, and reads a comma-separated list', () => {
    expect(loadConfig(base).relatedOrigins).toEqual([]);
    expect(loadConfig({ ...base, RELATED_ORIGINS: `${shop},${blog}` }).relatedOrigins).toEqual([shop, blog]);
  });

  it.each([
    ['http://shop.example.co.uk', /expected comma-separated https origins/],
    ['https://shop.example.co.uk/login', /expected comma-separated https origins/],
    ['not a url', /expected comma-separated https origins/],
    ['https://auth.example.com', /already in ORIGIN/],
    ['https://www.example.com', /is on RP_ID example.com/],
    [`${shop},${shop}`, /lists an origin twice/],
  ])('refuses %s with a clear error', (value, message) => {
    expect(() => loadConfig({ ...base, RELATED_ORIGINS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, RELATED_ORIGINS: value })).toThrow(message);
  });
});

describe('GET /.well-known/webauthn', () => {
  it('lists exactly the related origins, as application/json', async () => {
    const response = await t.get('/.well-known/webauthn');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ origins: [shop, blog] });
  });

  it('answers 404 when no related origin is configured', async () => {
    const plain = await createTestApp();
    try {
      const response = await plain.get('/.well-known/webauthn');
      expect(await errorOf(response)).toEqual({ status: 404, code: 'not_found' });
    } finally {
      await plain.close();
    }
  });
});

describe('ceremonies from a related origin', () => {
  it('signs up, signs in, steps up and adds a passkey from a listed related origin', async () => {
    const authenticator = createSoftwareAuthenticator({ origin: shop });
    const signUp = await signUpFrom(t, authenticator, 'shopper', fromShop);
    expect(signUp.status).toBe(201);
    const signIn = await signInFrom(t, authenticator, fromShop);
    expect(signIn.status).toBe(200);
    const cookie = cookieOf(signIn);
    const stepUp = await stepUpFrom(t, authenticator, cookie, fromShop);
    expect(stepUp.status).toBe(200);
    const added = await addPasskeyFrom(t, createSoftwareAuthenticator({ origin: blog }), cookie, fromShop);
    expect(added.status).toBe(201);
  });

  it('accepts a passkey made on the main origin in a sign-in on a related origin (one passkey across domains)', async () => {
    const authenticator = createSoftwareAuthenticator({ origin });
    expect((await t.signUp('roamer', authenticator)).user.username).toBe('roamer');
    const onShop = createSoftwareAuthenticator({ origin: shop });
    onShop.credentials.push(...authenticator.credentials);
    expect((await signInFrom(t, onShop, fromShop)).status).toBe(200);
  });

  it('refuses a sign-up whose clientDataJSON names an unlisted origin (400)', async () => {
    const response = await signUpFrom(t, createSoftwareAuthenticator({ origin: unlisted }), 'intruder', {
      Origin: origin,
    });
    expect(await errorOf(response)).toEqual({ status: 400, code: 'verification_failed' });
  });

  it('refuses a sign-in and a step-up whose clientDataJSON names an unlisted origin (401)', async () => {
    const authenticator = createSoftwareAuthenticator({ origin });
    const { cookie } = await t.signUp('victim', authenticator);
    const elsewhere = createSoftwareAuthenticator({ origin: unlisted });
    elsewhere.credentials.push(...authenticator.credentials);
    expect(await errorOf(await signInFrom(t, elsewhere, { Origin: origin }))).toEqual({
      status: 401,
      code: 'verification_failed',
    });
    expect(await errorOf(await stepUpFrom(t, elsewhere, cookie, { Origin: origin }))).toEqual({
      status: 401,
      code: 'verification_failed',
    });
  });

  it('does not accept related origins without RELATED_ORIGINS', async () => {
    const plain = await createTestApp();
    try {
      const response = await signUpFrom(plain, createSoftwareAuthenticator({ origin: shop }), 'shopper', {
        Origin: origin,
      });
      expect(await errorOf(response)).toEqual({ status: 400, code: 'verification_failed' });
    } finally {
      await plain.close();
    }
  });
});

describe('CSRF and related origins', () => {
  it('admits a related Origin only with Sec-Fetch-Site: same-origin (this server served on that origin)', async () => {
    expect((await t.request('POST', '/auth/login/options', { body: {}, headers: fromShop })).status).toBe(200);
  });

  it.each([
    ['cross-site', { Origin: shop, 'Sec-Fetch-Site': 'cross-site' }],
    ['no Sec-Fetch-Site', { Origin: shop }],
    ['an unlisted origin, even same-origin', { Origin: unlisted, 'Sec-Fetch-Site': 'same-origin' }],
  ])('refuses a related-origin post with %s', async (_name, headers) => {
    const response = await t.request('POST', '/auth/login/options', { body: {}, headers });
    expect(await errorOf(response)).toEqual({ status: 403, code: 'csrf' });
  });
});
