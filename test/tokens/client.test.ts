import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthClientError } from '../../client/src/errors.js';
import type { FetchLike } from '../../client/src/http.js';
import { createTokenClient } from '../../client/src/tokens.js';
import { createAccessTokenVerifier } from '../../server/verify.js';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { decodePart } from './helpers.js';

let t: TestApp;
let resource: Hono;
const refused = new Set<string>();
let resourceCalls: { authorization: string | undefined; body: string }[] = [];

beforeAll(async () => {
  t = await createTestApp();
  // The resource service verifies against the auth server's published keys.
  const verify = createAccessTokenVerifier({
    jwks: async (header) => {
      const { keys } = (await (await t.app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] };
      const key = keys.find((k) => k.kid === header.kid);
      if (!key) throw new Error('unknown kid');
      return key;
    },
    issuer: origin,
    audience: origin,
  });
  resource = new Hono();
  resource.all('/api/always-401', (c) => {
    resourceCalls.push({ authorization: c.req.header('authorization'), body: '' });
    return c.json({ error: 'invalid_token' }, 401);
  });
  resource.all('/api/echo', async (c) => {
    const authorization = c.req.header('authorization');
    resourceCalls.push({ authorization, body: await c.req.text() });
    const token = authorization?.replace(/^Bearer /, '') ?? '';
    try {
      const claims = await verify(token, t.clock.now());
      if (refused.has(claims.jti)) return c.json({ error: 'invalid_token' }, 401);
      return c.json({ sub: claims.sub });
    } catch {
      return c.json({ error: 'invalid_token' }, 401);
    }
  });
});
afterAll(async () => {
  await t?.close();
});
afterEach(() => {
  vi.useRealTimers();
  resourceCalls = [];
});

/**
 * The browser's part, done by hand: the auth server gets the session cookie and an Origin, and
 * takes rotated cookies; the resource API is another origin and gets no cookie.
 */
function browser(cookie: string) {
  const jar = { cookie };
  const tokenRequests: number[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input, origin);
    if (url.origin === 'https://api.example.com') return resource.request(url.pathname, init);
    if (url.pathname === '/auth/token') tokenRequests.push(Date.now());
    const headers = new Headers(init.headers);
    headers.set('Origin', origin);
    headers.set('Cookie', jar.cookie);
    const response = await t.app.request(url.pathname, { ...init, headers });
    jar.cookie = sessionCookieOf(response) ?? jar.cookie;
    return response;
  };
  return { fetch, tokenRequests, jar };
}

describe('getAccessToken()', () => {
  it('coalesces concurrent calls into one request and keeps the token in memory', async () => {
    const { cookie, user } = await t.signUp('clientuser');
    const b = browser(cookie);
    const tokens = createTokenClient({ fetch: b.fetch, channelName: 'test-coalesce' });
    const results = await Promise.all(Array.from({ length: 5 }, () => tokens.getAccessToken()));
    expect(new Set(results).size).toBe(1);
    expect(b.tokenRequests).toHaveLength(1);
    expect(decodePart(results[0]!, 1).sub).toBe(user.id);
    expect(await tokens.getAccessToken()).toBe(results[0]);
    expect(b.tokenRequests).toHaveLength(1);
  });

  it('refreshes ahead of expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { cookie } = await t.signUp('aheaduser');
    const b = browser(cookie);
    const tokens = createTokenClient({ fetch: b.fetch, refreshMargin: 30, channelName: 'test-ahead' });
    const first = await tokens.getAccessToken();
    vi.setSystemTime(Date.now() + 269_000);
    expect(await tokens.getAccessToken()).toBe(first);
    vi.setSystemTime(Date.now() + 2_000);
    const second = await tokens.getAccessToken();
    expect(second).not.toBe(first);
    expect(b.tokenRequests).toHaveLength(2);
  });

  it('rejects with unauthenticated when signed out, and forgets its token', async () => {
    const { cookie } = await t.signUp('signedout');
    const b = browser(cookie);
    const tokens = createTokenClient({ fetch: b.fetch, channelName: 'test-signedout' });
    await tokens.getAccessToken();
    await t.post('/auth/logout', undefined, cookie);
    tokens.clearAccessToken();
    const error = await tokens.getAccessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthClientError);
    expect(error).toMatchObject({ code: 'unauthenticated', status: 401 });
  });

  it('takes the rotated session cookie along', async () => {
    const { cookie } = await t.signUp('rotatedclient');
    const b = browser(cookie);
    const tokens = createTokenClient({ fetch: b.fetch, channelName: 'test-rotated' });
    t.clock.advance(900);
    await tokens.getAccessToken();
    expect(b.jar.cookie).not.toBe(cookie);
    t.clock.advance(60);
    // Long after the grace, the tab still works: it holds the successor.
    expect(await tokens.getAccessToken({ forceRefresh: true })).toMatch(/^ey/);
  });

  it('shares a token with the other tabs of the origin', async () => {
    const { cookie } = await t.signUp('tabsuser');
    const b = browser(cookie);
    const tabA = createTokenClient({ fetch: b.fetch, channelName: 'test-tabs' });
    const tabB = createTokenClient({ fetch: b.fetch, channelName: 'test-tabs' });
    // Tab B is open (listening) before tab A gets a token.
    tabB.clearAccessToken();
    const token = await tabA.getAccessToken();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await tabB.getAccessToken()).toBe(token);
    expect(b.tokenRequests).toHaveLength(1);
    // Signing out in one tab forgets the token in the others.
    tabA.clearAccessToken();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await tabB.getAccessToken()).not.toBe(token);
    expect(b.tokenRequests).toHaveLength(2);
  });
});

describe('authFetch()', () => {
  it('adds the bearer token', async () => {
    const { cookie, user } = await t.signUp('fetchuser');
    const tokens = createTokenClient({ fetch: browser(cookie).fetch, channelName: 'test-fetch' });
    const response = await tokens.authFetch('https://api.example.com/api/echo');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: user.id });
    expect(resourceCalls[0]!.authorization).toMatch(/^Bearer ey/);
  });

  it('retries once with a new token after a 401, sending the same body', async () => {
    const { cookie } = await t.signUp('retryuser');
    const b = browser(cookie);
    const tokens = createTokenClient({ fetch: b.fetch, channelName: 'test-retry' });
    refused.add(decodePart(await tokens.getAccessToken(), 1).jti as string);
    const response = await tokens.authFetch('https://api.example.com/api/echo', {
      method: 'POST',
      body: '{"order":1}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(resourceCalls).toHaveLength(2);
    expect(resourceCalls.map((c) => c.body)).toEqual(['{"order":1}', '{"order":1}']);
    expect(resourceCalls[0]!.authorization).not.toBe(resourceCalls[1]!.authorization);
    expect(b.tokenRequests).toHaveLength(2);
  });

  it('retries only once', async () => {
    const { cookie } = await t.signUp('onceuser');
    const tokens = createTokenClient({ fetch: browser(cookie).fetch, channelName: 'test-once' });
    const response = await tokens.authFetch('https://api.example.com/api/always-401');
    expect(response.status).toBe(401);
    expect(resourceCalls).toHaveLength(2);
  });
});
