import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthRoutes } from '../../server/app.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';

// The headers are set by the front door (server/http/front-door.ts), so every way a response is made
// must still carry them: JSON answers, thrown errors, 404/405, bodies of other types, HEAD.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

function expectSecurityHeaders(response: Response, auth: boolean) {
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  if (auth) expect(response.headers.get('cache-control')).toBe('no-store');
  else expect(response.headers.get('cache-control')).not.toBe('no-store');
}

describe('security headers on every response', () => {
  it('on answers, thrown errors, 404 and 405', async () => {
    const ok = await t.post('/auth/login/options', {});
    expect(ok.status).toBe(200);
    expectSecurityHeaders(ok, true);
    const unauthenticated = await t.get('/auth/session', '__Host-session=x.y');
    expect(unauthenticated.status).toBe(401);
    expectSecurityHeaders(unauthenticated, true);
    const wrongMethod = await t.get('/auth/login/verify');
    expect(wrongMethod.status).toBe(405);
    expectSecurityHeaders(wrongMethod, true);
    const notFound = await t.get('/nothing-here');
    expect(notFound.status).toBe(404);
    expectSecurityHeaders(notFound, false);
    const csrf = await t.request('POST', '/auth/logout', { headers: { Origin: 'https://evil.example' }, body: {} });
    expect(csrf.status).toBe(403);
    expectSecurityHeaders(csrf, true);
  });

  it('on other bodies, a route setting its own Cache-Control, and HEAD', async () => {
    const page = await t.get('/');
    expectSecurityHeaders(page, false);
    const jwks = await t.get('/.well-known/jwks.json');
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=/);
    expectSecurityHeaders(jwks, false);
    const head = await t.request('HEAD', '/auth/session');
    expectSecurityHeaders(head, true);
  });
});

// Served by @hono/node-server, the headers go on Node's own response rather than on a Headers object
// of the response (server/http/front-door.ts): the same headers, and a header the route sets still wins.
describe('security headers over a real socket', () => {
  let server: ServerType;
  let base: string;
  beforeAll(async () => {
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('on answers, errors, 404, 405, other bodies, a route setting its own Cache-Control, and HEAD', async () => {
    const send = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { Origin: origin, ...init.headers } });
    const ok = await send('/auth/login/options', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(ok.status).toBe(200);
    expectSecurityHeaders(ok, true);
    const unauthenticated = await send('/auth/session', { headers: { Cookie: '__Host-session=x.y' } });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('set-cookie')).toMatch(/^__Host-session=;/);
    expectSecurityHeaders(unauthenticated, true);
    const wrongMethod = await send('/auth/login/verify');
    expect(wrongMethod.status).toBe(405);
    expectSecurityHeaders(wrongMethod, true);
    const notFound = await send('/nothing-here');
    expect(notFound.status).toBe(404);
    expectSecurityHeaders(notFound, false);
    const page = await send('/');
    expectSecurityHeaders(page, false);
    const jwks = await send('/.well-known/jwks.json');
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=/);
    expectSecurityHeaders(jwks, false);
    const head = await send('/auth/session', { method: 'HEAD' });
    expectSecurityHeaders(head, true);
    // Each response its own id.
    expect(ok.headers.get('x-request-id')).not.toBe(unauthenticated.headers.get('x-request-id'));
  });
});

// The contract's routes mounted in a host app (createAuthRoutes) carry the same headers through their
// own first middleware; the host's own routes are left alone.
describe('security headers on the contract routes mounted in a host app', () => {
  it('through app.request() and over a real socket', async () => {
    const host = new Hono();
    host.get('/', (c) => c.text('host page'));
    host.route('/', createAuthRoutes(t.deps));
    const viaRequest = await host.request('/auth/session', { headers: { Cookie: '__Host-session=x.y' } });
    expect(viaRequest.status).toBe(401);
    expectSecurityHeaders(viaRequest, true);
    const hostPage = await host.request('/');
    expect(hostPage.headers.get('x-content-type-options')).toBeNull();

    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: host.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const address = server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const overSocket = await fetch(`${base}/auth/session`, { headers: { Cookie: '__Host-session=x.y' } });
      expect(overSocket.status).toBe(401);
      expectSecurityHeaders(overSocket, true);
      const jwks = await fetch(`${base}/.well-known/jwks.json`);
      expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=/);
      expectSecurityHeaders(jwks, false);
      expect((await fetch(`${base}/`)).headers.get('x-content-type-options')).toBeNull();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
