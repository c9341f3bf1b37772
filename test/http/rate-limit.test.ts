import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/db/database.js';
import type { AppEnv } from '../../server/http/env.js';
import { addressKey } from '../../server/net/address.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { checkedApp } from '../helpers/conformance.js';

// One database for the file (PGlite start-up is the slow part); each test builds an app with its own
// limits on it and uses addresses and usernames of its own.
let base: TestApp;
const opened: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  base = await createTestApp();
});
afterAll(async () => {
  for (const item of opened.reverse()) await item.close();
  await base?.close();
});

interface LimitedApp extends Omit<TestApp, 'app' | 'config'> {
  app: Hono<AppEnv>;
}

function app(env: Record<string, string> = {}): LimitedApp {
  const config = loadConfig({ ORIGIN: origin, ...env });
  return { ...base, app: checkedApp(createApp({ ...base.deps, config })) };
}

/** A POST as it arrives over a socket from `address` (what @hono/node-server passes as env). */
function from(
  t: Pick<TestApp, 'app'>,
  address: string,
  path: string,
  body: unknown = {},
  headers: Record<string, string> = {},
) {
  return Promise.resolve(
    t.app.request(
      path,
      {
        method: 'POST',
        headers: { Origin: origin, 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
      },
      { incoming: { socket: { remoteAddress: address } } },
    ),
  );
}

async function expectLimited(response: Response) {
  expect(response.status).toBe(429);
  expect(await response.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return retryAfter;
}

describe('rate limits per client address', () => {
  it('answers 429 rate_limited with Retry-After once an address is over its limit', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '3', RATE_LIMIT_WINDOW: '60' });
    for (let i = 0; i < 3; i++) expect((await from(t, '203.0.113.5', '/auth/login/options')).status).toBe(200);
    const retryAfter = await expectLimited(await from(t, '203.0.113.5', '/auth/login/options'));
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another client is not affected.
    expect((await from(t, '203.0.113.6', '/auth/login/options')).status).toBe(200);
  });

  it('counts options and verify of one ceremony together, and keeps ceremonies apart', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '2' });
    expect((await from(t, '198.51.100.1', '/auth/login/options')).status).toBe(200);
    expect((await from(t, '198.51.100.1', '/auth/login/verify', { nonsense: true })).status).toBe(400);
    await expectLimited(await from(t, '198.51.100.1', '/auth/login/verify', { nonsense: true }));
    expect((await from(t, '198.51.100.1', '/auth/register/options', { username: 'newcomer' })).status).toBe(200);
  });

  it('admits the address again once the window has passed on the clock', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '2', RATE_LIMIT_WINDOW: '60' });
    await from(t, '203.0.113.7', '/auth/login/options');
    await from(t, '203.0.113.7', '/auth/login/options');
    t.clock.advance(30);
    const retryAfter = await expectLimited(await from(t, '203.0.113.7', '/auth/login/options'));
    expect(retryAfter).toBe(30);
    t.clock.advance(29);
    await expectLimited(await from(t, '203.0.113.7', '/auth/login/options'));
    t.clock.advance(1);
    expect((await from(t, '203.0.113.7', '/auth/login/options')).status).toBe(200);
  });

  it('lets exactly the limit through when requests arrive at once (one atomic upsert per check)', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '5' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => from(t, '192.0.2.44', '/auth/login/options')));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('ignores X-Forwarded-For from an untrusted peer: rotating it does not reset the limit', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '2' });
    for (let i = 0; i < 2; i++) {
      expect(
        (await from(t, '203.0.113.9', '/auth/login/options', {}, { 'X-Forwarded-For': `10.0.0.${i}` })).status,
      ).toBe(200);
    }
    for (let i = 2; i < 6; i++) {
      await expectLimited(
        await from(t, '203.0.113.9', '/auth/login/options', {}, { 'X-Forwarded-For': `10.0.0.${i}` }),
      );
    }
  });

  it('behind a trusted proxy, limits the client the proxy saw, whatever the client prepended', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '2', TRUSTED_PROXIES: '1' });
    const proxy = '10.1.1.1';
    for (let i = 0; i < 2; i++) {
      const forged = `6.6.6.${i}, 198.51.100.77`;
      expect((await from(t, proxy, '/auth/login/options', {}, { 'X-Forwarded-For': forged })).status).toBe(200);
    }
    await expectLimited(
      await from(t, proxy, '/auth/login/options', {}, { 'X-Forwarded-For': '7.7.7.7, 198.51.100.77' }),
    );
    // Another client behind the same proxy has its own counter.
    expect((await from(t, proxy, '/auth/login/options', {}, { 'X-Forwarded-For': '198.51.100.78' })).status).toBe(200);
  });

  it('groups IPv6 clients by /64, so rotating within a /64 does not reset the limit', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '2' });
    expect((await from(t, '2001:db8:1:2::1', '/auth/login/options')).status).toBe(200);
    expect((await from(t, '2001:db8:1:2:ffff:eeee:dddd:cccc', '/auth/login/options')).status).toBe(200);
    await expectLimited(await from(t, '2001:0db8:0001:0002::9', '/auth/login/options'));
    expect((await from(t, '2001:db8:1:3::1', '/auth/login/options')).status).toBe(200);
  });

  it('keys addresses: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(addressKey('203.0.113.1')).toBe('203.0.113.1');
    expect(addressKey('::ffff:203.0.113.1')).toBe('203.0.113.1');
    expect(addressKey('2001:db8::1')).toBe('2001:0db8:0000:0000::/64');
    expect(addressKey('2001:DB8:0:0:1::1')).toBe('2001:0db8:0000:0000::/64');
    expect(addressKey('[2001:db8:a:b::1]')).toBe('2001:0db8:000a:000b::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0000:0000:0000::/64');
    expect(addressKey('::1')).toBe('0000:0000:0000:0000::/64');
    expect(addressKey('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(addressKey('64:ff9b::192.0.2.33')).toBe('0064:ff9b:0000:0000::/64');
  });
});

describe('rate limits per username or credential', () => {
  it('limits registration options per normalised username, from any address', async () => {
    const t = app({ RATE_LIMIT_PER_IDENTIFIER: '2' });
    expect((await from(t, '203.0.113.20', '/auth/register/options', { username: 'Target' })).status).toBe(200);
    expect((await from(t, '203.0.113.21', '/auth/register/options', { username: 'target' })).status).toBe(200);
    await expectLimited(await from(t, '203.0.113.22', '/auth/register/options', { username: 'TARGET' }));
    expect((await from(t, '203.0.113.22', '/auth/register/options', { username: 'someone-else' })).status).toBe(200);
  });

  it('limits sign-in attempts per credential ID, from any address', async () => {
    const t = app({ RATE_LIMIT_PER_IDENTIFIER: '2' });
    const { authenticator } = await t.signUp('victim');
    const credentialId = authenticator.credentials[0]!.id;
    for (let i = 0; i < 2; i++) {
      const assertion = authenticator.getAssertion(await (await t.post('/auth/login/options', {})).json(), {
        corruptSignature: true,
      });
      expect((await from(t, `198.51.100.${i}`, '/auth/login/verify', assertion)).status).toBe(401);
    }
    const assertion = authenticator.getAssertion(await (await t.post('/auth/login/options', {})).json());
    expect(assertion.id).toBe(credentialId);
    await expectLimited(await from(t, '198.51.100.9', '/auth/login/verify', assertion));
    t.clock.advance(60);
    const fresh = authenticator.getAssertion(await (await t.post('/auth/login/options', {})).json());
    expect((await from(t, '198.51.100.9', '/auth/login/verify', fresh)).status).toBe(200);
  });
});

describe('challenge cap per client', () => {
  it('caps the challenges one address can have issued within a challenge lifetime', async () => {
    const t = app({ RATE_LIMIT_PER_ADDRESS: '1000', RATE_LIMIT_CHALLENGES_PER_ADDRESS: '4', CHALLENGE_TTL: '300' });
    const before = await t.database.db
      .selectFrom('webauthn_challenge')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    for (let i = 0; i < 2; i++) {
      expect((await from(t, '203.0.113.30', '/auth/login/options')).status).toBe(200);
      expect((await from(t, '203.0.113.30', '/auth/register/options', { username: `grower${i}` })).status).toBe(200);
    }
    for (let i = 0; i < 10; i++) await expectLimited(await from(t, '203.0.113.30', '/auth/login/options'));
    const after = await t.database.db
      .selectFrom('webauthn_challenge')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(4);
    t.clock.advance(300);
    expect((await from(t, '203.0.113.30', '/auth/login/options')).status).toBe(200);
  });
});

describe('rate limits across instances', () => {
  it('shares counters between two app instances on one database', async () => {
    const t = base;
    const config = loadConfig({ ORIGIN: origin, RATE_LIMIT_PER_ADDRESS: '4' });
    // On PostgreSQL the second instance has its own connection pool, as a second process would.
    let db = t.deps.db;
    if (t.database.url) {
      const second = await openDatabase({ databaseUrl: t.database.url, dataDir: '' });
      opened.push(second);
      db = second.db;
    }
    const one = { app: checkedApp(createApp({ ...t.deps, config })) };
    const two = { app: checkedApp(createApp({ ...t.deps, config, db })) };
    expect((await from(one, '203.0.113.40', '/auth/login/options')).status).toBe(200);
    expect((await from(two, '203.0.113.40', '/auth/login/options')).status).toBe(200);
    expect((await from(one, '203.0.113.40', '/auth/login/options')).status).toBe(200);
    expect((await from(two, '203.0.113.40', '/auth/login/options')).status).toBe(200);
    await expectLimited(await from(one, '203.0.113.40', '/auth/login/options'));
    await expectLimited(await from(two, '203.0.113.40', '/auth/login/options'));
  });
});

describe('the per-username limiter and the account share one key', () => {
  it('counts whitespace-padded and width-variant spellings of a name against one bucket', async () => {
    const t = app({ RATE_LIMIT_PER_IDENTIFIER: '2' });
    expect((await from(t, '203.0.113.40', '/auth/register/options', { username: 'padded' })).status).toBe(200);
    expect((await from(t, '203.0.113.41', '/auth/register/options', { username: 'padded' })).status).toBe(200);
    for (const [i, spelling] of [' padded', 'padded ', '  PADDED  ', '\u3000padded', 'ｐａｄｄｅｄ'].entries()) {
      await expectLimited(await from(t, `203.0.113.${50 + i}`, '/auth/register/options', { username: spelling }));
    }
  });
});
