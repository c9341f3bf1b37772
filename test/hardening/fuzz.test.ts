import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';

// Property-based fuzzing of every endpoint: random JSON, random text, and valid bodies with one
// random mutation. Whatever arrives, the answer is the endpoint's success status or one of the
// contract's 4xx codes in the contract's error format; never a 5xx; and the server keeps answering.

const runs = Number(process.env.FUZZ_RUNS ?? 15);
const contractErrors: Record<string, number> = {
  invalid_request: 400,
  invalid_challenge: 400,
  verification_failed: 0, // 400 for registration, 401 for assertions
  unauthenticated: 401,
  unknown_credential: 401,
  csrf: 403,
  account_disabled: 403,
  reauthentication_required: 403,
  not_found: 404,
  method_not_allowed: 405,
  username_taken: 409,
  credential_exists: 409,
  last_passkey: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
};

let t: TestApp;
beforeAll(async () => {
  // Rate limits have their own tests; here they would only turn mutated bodies into 429s.
  t = await createTestApp({ RATE_LIMIT_PER_IDENTIFIER: '0' });
});
afterAll(async () => {
  await t?.close();
});

interface User {
  cookie: string;
  authenticator: SoftwareAuthenticator;
  username: string;
}
let userCount = 0;
async function newUser(): Promise<User> {
  const username = `fuzz-${++userCount}`;
  const { cookie, authenticator } = await t.signUp(username);
  return { cookie, authenticator, username };
}

async function send(method: string, path: string, body: string | undefined, cookie: string | null): Promise<Response> {
  const headers: Record<string, string> = { Origin: origin };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (cookie) headers.Cookie = cookie;
  return Promise.resolve(t.app.request(path, { method, headers, body }));
}

async function expectContractAnswer(response: Response, success: number[]): Promise<void> {
  const text = await response.text();
  if (success.includes(response.status)) return;
  expect(response.status, text).toBeGreaterThanOrEqual(400);
  expect(response.status, text).toBeLessThan(500);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.message).toBe('string');
  const status = contractErrors[body.error.code];
  expect(status, `unexpected code ${body.error.code}`).toBeDefined();
  if (status) expect(response.status).toBe(status);
  else expect([400, 401]).toContain(response.status);
}

interface Endpoint {
  method: string;
  /** The path; may depend on the endpoint's user (a passkey id). */
  path: (user: User) => string;
  success: number[];
  /** Whether requests carry the user's session cookie. */
  signedIn: boolean;
  /** A fresh valid body, for mutation. */
  valid: (user: User) => Promise<unknown>;
}

const options = async (path: string, body: unknown, cookie: string | null = null) =>
  (await send('POST', path, JSON.stringify(body), cookie)).json();

const endpoints: Record<string, Endpoint> = {
  'register options': {
    method: 'POST',
    path: () => '/auth/register/options',
    success: [200],
    signedIn: false,
    valid: async () => ({ username: `fuzz-new-${Math.random().toString(36).slice(2)}`, displayName: 'Fuzz' }),
  },
  'register verify': {
    method: 'POST',
    path: () => '/auth/register/verify',
    success: [201],
    signedIn: false,
    valid: async () =>
      createSoftwareAuthenticator({ origin }).createCredential(
        await options('/auth/register/options', { username: `fuzz-reg-${Math.random().toString(36).slice(2)}` }),
      ),
  },
  'login options': {
    method: 'POST',
    path: () => '/auth/login/options',
    success: [200],
    signedIn: false,
    valid: async () => ({ username: 'someone' }),
  },
  'login verify': {
    method: 'POST',
    path: () => '/auth/login/verify',
    success: [200],
    signedIn: false,
    valid: async (u) => u.authenticator.getAssertion(await options('/auth/login/options', {})),
  },
  logout: { method: 'POST', path: () => '/auth/logout', success: [204], signedIn: false, valid: async () => ({}) },
  'revoke other sessions': {
    method: 'POST',
    path: () => '/auth/sessions/revoke-others',
    success: [200],
    signedIn: true,
    valid: async () => ({}),
  },
  'delete a session': {
    method: 'DELETE',
    path: () => '/auth/sessions/unknown-session-id',
    success: [204],
    signedIn: true,
    valid: async () => ({}),
  },
  'step-up options': {
    method: 'POST',
    path: () => '/auth/reauth/options',
    success: [200],
    signedIn: true,
    valid: async () => ({}),
  },
  'step-up verify': {
    method: 'POST',
    path: () => '/auth/reauth/verify',
    success: [200],
    signedIn: true,
    valid: async (u) => u.authenticator.getAssertion(await options('/auth/reauth/options', {}, u.cookie)),
  },
  'passkey options': {
    method: 'POST',
    path: () => '/auth/passkeys/options',
    success: [200],
    signedIn: true,
    valid: async () => ({}),
  },
  'passkey verify': {
    method: 'POST',
    path: () => '/auth/passkeys/verify',
    success: [201],
    signedIn: true,
    valid: async (u) =>
      createSoftwareAuthenticator({ origin }).createCredential(await options('/auth/passkeys/options', {}, u.cookie)),
  },
  'rename a passkey': {
    method: 'PATCH',
    path: (u) => `/auth/passkeys/${u.authenticator.credentials[0]!.id}`,
    success: [200],
    signedIn: true,
    valid: async () => ({ name: 'Laptop' }),
  },
  'delete a passkey': {
    method: 'DELETE',
    path: (u) => `/auth/passkeys/${u.authenticator.credentials[0]!.id}`,
    success: [204],
    signedIn: true,
    valid: async () => ({}),
  },
  'change display name': {
    method: 'PATCH',
    path: () => '/auth/user',
    success: [200],
    signedIn: true,
    valid: async () => ({ displayName: 'Fuzzy' }),
  },
  'access token': {
    method: 'POST',
    path: () => '/auth/token',
    success: [200],
    signedIn: true,
    valid: async () => ({}),
  },
  'recovery codes': {
    method: 'POST',
    path: () => '/auth/recovery-codes',
    success: [201],
    signedIn: true,
    valid: async () => ({}),
  },
  recover: {
    method: 'POST',
    path: () => '/auth/recover',
    success: [200],
    signedIn: false,
    valid: async (u) => ({ username: u.username, code: 'ABCD-EFGH-IJKL' }),
  },
  introspect: {
    method: 'POST',
    path: () => '/auth/introspect',
    success: [200],
    signedIn: false,
    valid: async () => ({ token: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' }),
  },
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value inside a JSON value ([] is the root). */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...paths(item, [...prefix, i])));
  else if (typeof value === 'object' && value !== null)
    for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  return out;
}

const mutation = fc.record({
  pick: fc.nat(),
  kind: fc.constantFrom('replace', 'delete', 'truncate', 'flip', 'grow', 'retype'),
  value: fc.jsonValue({ maxDepth: 2 }),
  position: fc.nat(),
  char: fc.constantFrom('+', '/', '=', '-', '_', 'A', '.', ' ', '\u00e9', '\u0000', '\\', '"'),
});

function mutate(valid: unknown, m: typeof mutation extends fc.Arbitrary<infer T> ? T : never): unknown {
  const root = { value: structuredClone(valid) as Json };
  const all = paths(root.value);
  const path = all[m.pick % all.length]!;
  let parent: any = root;
  let key: string | number = 'value';
  for (const step of path) {
    parent = parent[key];
    key = step;
  }
  const current = parent[key] as Json;
  switch (m.kind) {
    case 'replace':
      parent[key] = m.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 'truncate':
      parent[key] = typeof current === 'string' ? current.slice(0, m.position % (current.length + 1)) : null;
      break;
    case 'flip':
      if (typeof current === 'string' && current.length > 0) {
        const at = m.position % current.length;
        parent[key] = current.slice(0, at) + m.char + current.slice(at + 1);
      } else parent[key] = m.char;
      break;
    case 'grow':
      parent[key] = typeof current === 'string' ? current + current.repeat(1 + (m.position % 8)) : [current, current];
      break;
    case 'retype':
      parent[key] =
        typeof current === 'string'
          ? [current]
          : typeof current === 'number'
            ? String(current)
            : typeof current === 'object' && current !== null
              ? JSON.stringify(current)
              : 0;
      break;
  }
  return root.value;
}

describe('fuzzing every endpoint', () => {
  for (const [name, endpoint] of Object.entries(endpoints)) {
    it(`${name}: random JSON, random text and mutated valid bodies never get a 5xx`, async () => {
      const user = await newUser();
      const cookie = () => (endpoint.signedIn ? user.cookie : null);
      const path = endpoint.path(user);

      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
          await expectContractAnswer(
            await send(endpoint.method, path, JSON.stringify(value), cookie()),
            endpoint.success,
          );
        }),
        { numRuns: runs },
      );
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 64, unit: 'binary' }), async (text) => {
          await expectContractAnswer(await send(endpoint.method, path, text, cookie()), endpoint.success);
        }),
        { numRuns: Math.ceil(runs / 2) },
      );
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const body = mutate(await endpoint.valid(user), m);
          await expectContractAnswer(
            await send(endpoint.method, path, body === undefined ? undefined : JSON.stringify(body), cookie()),
            endpoint.success,
          );
        }),
        { numRuns: runs },
      );
    });
  }

  // Not random: every string of every endpoint's valid body, one at a time, made ill-formed UTF-16 (a
  // lone surrogate: JSON admits `"\ud800"`, PostgreSQL's text and jsonb do not), and every key too.
  const illFormed = ['\ud800', '\udfff', '\udc00\ud800'];
  for (const [name, endpoint] of Object.entries(endpoints)) {
    it(`${name}: a lone surrogate in any string or key of the body is 400 invalid_request`, async () => {
      const user = await newUser();
      const template = await endpoint.valid(user);
      const stringPaths = paths(template).filter((p) => typeof p.reduce((v: any, k) => v[k], template) === 'string');
      for (const at of stringPaths) {
        for (const bad of illFormed) {
          const body: any = structuredClone(await endpoint.valid(user));
          const parent = at.slice(0, -1).reduce((v: any, k) => v[k], body);
          const key = at[at.length - 1]!;
          parent[key] = `${String(parent[key]).slice(0, 3)}${bad}${String(parent[key]).slice(3)}`;
          const response = await send(
            endpoint.method,
            endpoint.path(user),
            JSON.stringify(body),
            endpoint.signedIn ? user.cookie : null,
          );
          expect(response.status, `${at.join('.')} with ${escape(bad)}`).toBe(400);
          expect((await response.json()).error.code).toBe('invalid_request');
        }
      }
      if (typeof template === 'object' && template !== null && !Array.isArray(template)) {
        const body = { ...((await endpoint.valid(user)) as object), ['x\ud800']: 'y' };
        const response = await send(
          endpoint.method,
          endpoint.path(user),
          JSON.stringify(body),
          endpoint.signedIn ? user.cookie : null,
        );
        expect(response.status).toBe(400);
      }
    });
  }

  it('ill-formed or overlong path parameters never get a 5xx', async () => {
    const user = await newUser();
    for (const id of ['%ED%A0%80', '%F0%9F', '%FF', '%C0%AF', '%00', `${'%E2%80%8B'.repeat(300)}`, '..%2F..%2Fetc']) {
      for (const [method, path, body] of [
        ['DELETE', `/auth/sessions/${id}`, undefined],
        ['DELETE', `/auth/passkeys/${id}`, undefined],
        ['PATCH', `/auth/passkeys/${id}`, JSON.stringify({ name: 'x' })],
      ] as const) {
        await expectContractAnswer(await send(method, path, body, user.cookie), [204, 200]);
      }
    }
  });

  it('out-of-range cursors and numbers in the activity query are 400 invalid_request', async () => {
    const user = await newUser();
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const id = '00000000-0000-4000-8000-000000000000';
    const dates = [
      '+275760-09-13T00:00:00.000Z',
      '-271821-04-20T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '-000001-01-01T00:00:00.000Z',
      '+010000-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
    ];
    const cursors = [
      ...dates.map((date) => cursor([date, id])),
      cursor([1e308, id]),
      cursor([-1, id]),
      cursor([null, id]),
      cursor(['2026-01-01T00:00:00.000Z', '\ud800']),
      cursor(['\ud800', id]),
      cursor(['2026-01-01T00:00:00.000Z', id, 'extra']),
      cursor({}),
      '%ED%A0%80',
      'A'.repeat(10_000),
    ];
    const limits = ['0', '-1', '101', '1e3', '1.5', 'NaN', 'Infinity', '9007199254740993', '0x10', ' 5', '%ED%A0%80'];
    for (const value of cursors) {
      const response = await send('GET', `/auth/activity?cursor=${value}`, undefined, user.cookie);
      expect(response.status, value.slice(0, 80)).toBe(400);
      expect((await response.json()).error.code).toBe('invalid_request');
    }
    for (const value of limits) {
      const response = await send('GET', `/auth/activity?limit=${value}`, undefined, user.cookie);
      expect(response.status, value).toBe(400);
    }
    // The edges that are in range still answer.
    expect(
      (
        await send(
          'GET',
          `/auth/activity?cursor=${cursor(['1970-01-01T00:00:00.000Z', id])}&limit=100`,
          undefined,
          user.cookie,
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await send(
          'GET',
          `/auth/activity?cursor=${cursor(['9999-12-31T23:59:59.999Z', id])}&limit=1`,
          undefined,
          user.cookie,
        )
      ).status,
    ).toBe(200);
  });

  it('fuzzed session cookies get 200 or 401, never a 5xx', async () => {
    const user = await newUser();
    const printable = fc
      .array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength: 120 })
      .map((codes) => String.fromCharCode(...codes).replace(/;/g, ''));
    await fc.assert(
      fc.asyncProperty(printable, fc.nat(), fc.boolean(), async (noise, position, keepName) => {
        const token = user.cookie.slice(user.cookie.indexOf('=') + 1);
        const at = position % (token.length + 1);
        const value = keepName ? `__Host-session=${token.slice(0, at)}${noise}${token.slice(at + 1)}` : noise;
        for (const path of [
          '/auth/session',
          '/auth/sessions',
          '/auth/passkeys',
          '/auth/recovery-codes',
          '/auth/activity',
        ]) {
          const response = await send('GET', path, undefined, value);
          await expectContractAnswer(response, [200]);
        }
      }),
      { numRuns: runs },
    );
  });

  it('still answers after the fuzzing: health, sign-up and sign-in work', async () => {
    expect((await t.get('/healthz')).status).toBe(200);
    const { authenticator } = await t.signUp('after-the-storm');
    expect((await t.signIn(authenticator)).status).toBe(200);
  });
});
