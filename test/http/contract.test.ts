import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await response.json();
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  return body;
}

const raw = (path: string, init: RequestInit) => Promise.resolve(t.app.request(path, init));

describe('routing', () => {
  it('answers an unknown route with 404 not_found in the contract format', async () => {
    await expectError(await t.get('/auth/nope'), 404, 'not_found');
    await expectError(await t.get('/nothing-here'), 404, 'not_found');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const response = await t.get('/auth/login/verify');
    await expectError(response, 405, 'method_not_allowed');
    expect(response.headers.get('allow')).toBe('POST');
    await expectError(await t.request('DELETE', '/auth/session'), 405, 'method_not_allowed');
  });

  it('answers 405 on parameter paths and their static siblings alike', async () => {
    const onId = await t.request('POST', '/auth/passkeys/00000000-0000-0000-0000-000000000000');
    await expectError(onId, 405, 'method_not_allowed');
    expect(onId.headers.get('allow')).toBe('PATCH, DELETE');
    const onOptions = await t.request('GET', '/auth/passkeys/options');
    await expectError(onOptions, 405, 'method_not_allowed');
    expect(onOptions.headers.get('allow')).toBe('POST');
    await expectError(await t.request('PUT', '/auth/sessions/revoke-others'), 405, 'method_not_allowed');
    await expectError(await t.request('PROPFIND', '/auth/session'), 405, 'method_not_allowed');
    await expectError(await t.request('GET', '/auth/passkeys/a/b'), 404, 'not_found');
  });

  it("routes with Hono's RegExpRouter: the route table has no ambiguity that forces the TrieRouter", async () => {
    await t.get('/healthz');
    expect((t.app.router as { name: string }).name).toBe('SmartRouter + RegExpRouter');
  });

  it('checks 404 and 405 before CSRF', async () => {
    await expectError(await raw('/auth/unknown', { method: 'POST' }), 404, 'not_found');
    await expectError(
      await raw('/auth/session', { method: 'DELETE', headers: { Origin: 'https://evil.example' } }),
      405,
      'method_not_allowed',
    );
  });

  it('answers /healthz with ok when the database answers', async () => {
    const response = await t.get('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('CSRF', () => {
  const body = JSON.stringify({});
  const json = { 'Content-Type': 'application/json' };

  it('refuses a state-changing request from another origin', async () => {
    await expectError(
      await raw('/auth/login/options', { method: 'POST', body, headers: { ...json, Origin: 'https://evil.example' } }),
      403,
      'csrf',
    );
    await expectError(
      await raw('/auth/login/options', { method: 'POST', body, headers: { ...json, Origin: 'null' } }),
      403,
      'csrf',
    );
  });

  it('refuses a request with neither Origin nor Sec-Fetch-Site', async () => {
    await expectError(await raw('/auth/login/options', { method: 'POST', body, headers: json }), 403, 'csrf');
  });

  it.each(['cross-site', 'same-site'])('refuses Sec-Fetch-Site: %s, even with an allowed Origin', async (site) => {
    await expectError(await raw('/auth/logout', { method: 'POST', headers: { 'Sec-Fetch-Site': site } }), 403, 'csrf');
    await expectError(
      await raw('/auth/logout', {
        method: 'POST',
        headers: { 'Sec-Fetch-Site': site, Origin: 'http://localhost:3000' },
      }),
      403,
      'csrf',
    );
  });

  it('admits Sec-Fetch-Site: same-origin without Origin, and an allowed Origin', async () => {
    expect(
      (
        await raw('/auth/login/options', {
          method: 'POST',
          body,
          headers: { ...json, 'Sec-Fetch-Site': 'same-origin' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await raw('/auth/login/options', {
          method: 'POST',
          body,
          headers: { ...json, Origin: 'http://localhost:3000' },
        })
      ).status,
    ).toBe(200);
  });

  it('checks CSRF before the body size', async () => {
    await expectError(
      await raw('/auth/login/options', {
        method: 'POST',
        body: 'x'.repeat(70_000),
        headers: { ...json, Origin: 'https://evil.example' },
      }),
      403,
      'csrf',
    );
  });
});

describe('bodies', () => {
  it('refuses a body over 64 KiB with 413 before parsing, and closes the connection', async () => {
    const response = await t.request('POST', '/auth/login/options', {
      body: JSON.stringify({ pad: 'x'.repeat(66_000) }),
    });
    await expectError(response, 413, 'payload_too_large');
    expect(response.headers.get('connection')).toBe('close');
  });

  it('refuses an oversized chunked body that has no Content-Length', async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(8192)));
        controller.close();
      },
    });
    const response = await raw('/auth/login/options', {
      method: 'POST',
      body: chunks,
      headers: { 'Content-Type': 'application/json', Origin: 'http://localhost:3000' },
      duplex: 'half',
    } as RequestInit);
    await expectError(response, 413, 'payload_too_large');
  });

  it('checks the size before the media type', async () => {
    await expectError(
      await t.request('POST', '/auth/login/options', {
        body: 'x'.repeat(70_000),
        headers: { 'Content-Type': 'text/plain' },
      }),
      413,
      'payload_too_large',
    );
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp'])(
    'refuses a body of type %s with 415',
    async (type) => {
      await expectError(
        await t.request('POST', '/auth/login/options', { body: '{}', headers: { 'Content-Type': type } }),
        415,
        'unsupported_media_type',
      );
    },
  );

  it('accepts application/json with a charset', async () => {
    expect(
      (
        await t.request('POST', '/auth/login/options', {
          body: '{}',
          headers: { 'Content-Type': 'application/json; charset=utf-8' },
        })
      ).status,
    ).toBe(200);
  });

  it.each([
    ['malformed JSON', '{"username": '],
    ['truncated JSON', '{"username": "abc"'],
    ['null', 'null'],
    ['an array', '[]'],
    ['a number', '42'],
    ['a string', '"alice"'],
    ['deep nesting', '{"a":'.repeat(40) + '1' + '}'.repeat(40)],
    ['a NUL in a string', JSON.stringify({ username: 'nul\u0000name' })],
    ['a __proto__ key', '{"__proto__": {"admin": true}, "username": "proto"}'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ])('refuses %s with 400 invalid_request', async (_, body) => {
    await expectError(
      await t.request('POST', '/auth/register/options', { body: body as string }),
      400,
      'invalid_request',
    );
  });

  it('refuses a 10 000-character username with 400', async () => {
    await expectError(await t.post('/auth/register/options', { username: 'a'.repeat(10_000) }), 400, 'invalid_request');
  });
});

describe('headers', () => {
  it('marks every /auth/* answer no-store, and errors too', async () => {
    expect((await t.post('/auth/login/options', {})).headers.get('cache-control')).toBe('no-store');
    expect((await t.get('/auth/session')).headers.get('cache-control')).toBe('no-store');
    expect((await t.get('/auth/nope')).headers.get('cache-control')).toBe('no-store');
  });

  it('sends nosniff and a Referrer-Policy', async () => {
    const response = await t.get('/healthz');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });
});
