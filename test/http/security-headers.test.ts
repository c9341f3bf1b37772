import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

// The headers are set before the handler runs (server/app.ts), so every way a response is made
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
