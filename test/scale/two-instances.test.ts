import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAccessToken } from '../../server/verify.js';
import { type RunningServer, startServer } from '../browser/harness.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { type RunningPgBouncer, startPgBouncer } from '../helpers/pgbouncer.js';

// Two real server processes on one PostgreSQL database, as a load balancer would run them: no
// instance may keep in memory anything another one needs.

const origin = 'http://localhost:3000';
const perAddressLimit = 6;

interface Instance {
  server: RunningServer;
  /** Where this process listens (loopback by IP: `localhost` may resolve to ::1 first). */
  url: string;
}

let database: TestDatabase;
// TEST_PGBOUNCER=1 (.ci/run): both instances reach the database through PgBouncer in transaction
// mode, without named prepared statements; only migrations take the direct URL.
const throughPgBouncer = process.env.TEST_PGBOUNCER === '1';
let pgbouncer: RunningPgBouncer | undefined;
let a: Instance;
let b: Instance;

async function startInstance(url: string): Promise<Instance> {
  // Both instances serve the same public origin, as behind one load balancer; each test sends its
  // own X-Forwarded-For address (one trusted proxy), so the per-address limits of one test never
  // spill into another.
  const server = await startServer({
    ...(pgbouncer
      ? { DATABASE_URL: pgbouncer.through(url), DATABASE_PREPARED_STATEMENTS: 'false', MIGRATION_DATABASE_URL: url }
      : { DATABASE_URL: url }),
    ORIGIN: origin,
    TRUSTED_PROXIES: '1',
    RATE_LIMIT_PER_ADDRESS: String(perAddressLimit),
    // startServer waits for the `listening on` line, logged at info.
    LOG_LEVEL: 'info',
  });
  return { server, url: server.origin.replace('localhost', '127.0.0.1') };
}

let addressCounter = 0;
/** A fresh client address for one test. */
function newAddress(): string {
  addressCounter += 1;
  return `198.51.100.${addressCounter}`;
}

function call(
  instance: Instance,
  method: string,
  path: string,
  options: { body?: unknown; cookie?: string; address: string },
): Promise<Response> {
  const headers: Record<string, string> = { Origin: origin, 'X-Forwarded-For': options.address };
  if (options.cookie) headers.Cookie = options.cookie;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${instance.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

function sessionCookieOf(response: Response): string {
  for (const header of response.headers.getSetCookie()) {
    const [pair] = header.split(';');
    if (pair?.startsWith('__Host-session=') && pair.length > '__Host-session='.length) return pair;
  }
  throw new Error('no session cookie');
}

/** Registration begun on `first`, finished on `second`; returns the session cookie. */
async function signUp(
  first: Instance,
  second: Instance,
  username: string,
  authenticator: SoftwareAuthenticator,
  address: string,
): Promise<string> {
  const options = await call(first, 'POST', '/auth/register/options', { body: { username }, address });
  expect(options.status).toBe(200);
  const verify = await call(second, 'POST', '/auth/register/verify', {
    body: authenticator.createCredential(await options.json()),
    address,
  });
  expect(verify.status).toBe(201);
  return sessionCookieOf(verify);
}

/** Sign-in begun on `first`, finished on `second`; returns the response of the verify step. */
async function signIn(
  first: Instance,
  second: Instance,
  authenticator: SoftwareAuthenticator,
  address: string,
): Promise<Response> {
  const options = await call(first, 'POST', '/auth/login/options', { body: {}, address });
  expect(options.status).toBe(200);
  return call(second, 'POST', '/auth/login/verify', {
    body: authenticator.getAssertion(await options.json()),
    address,
  });
}

describe.skipIf(!process.env.DATABASE_URL)(
  `two server instances on one PostgreSQL database${throughPgBouncer ? ', through PgBouncer in transaction mode' : ''}`,
  () => {
    beforeAll(async () => {
      database = await createTestDatabase();
      if (throughPgBouncer) pgbouncer = await startPgBouncer(database.url as string);
      [a, b] = await Promise.all([startInstance(database.url as string), startInstance(database.url as string)]);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([a?.server.stop(), b?.server.stop()]);
      await pgbouncer?.stop();
      await database?.destroy();
    }, 60_000);

    it('finishes a registration begun on the other instance', async () => {
      const address = newAddress();
      const authenticator = createSoftwareAuthenticator({ origin });
      const cookie = await signUp(a, b, 'scale-register', authenticator, address);
      const session = await call(a, 'GET', '/auth/session', { cookie, address });
      expect(session.status).toBe(200);
      expect(((await session.json()) as { user: { username: string } }).user.username).toBe('scale-register');
    });

    it('finishes a sign-in begun on the other instance, and each challenge is used once across both', async () => {
      const address = newAddress();
      const authenticator = createSoftwareAuthenticator({ origin });
      await signUp(a, a, 'scale-login', authenticator, address);

      const options = await call(b, 'POST', '/auth/login/options', { body: {}, address });
      const assertion = authenticator.getAssertion(await options.json());
      const first = await call(a, 'POST', '/auth/login/verify', { body: assertion, address });
      expect(first.status).toBe(200);
      expect(((await first.json()) as { user: { username: string } }).user.username).toBe('scale-login');

      // The same response replayed on the instance that issued the challenge: already consumed.
      const replay = await call(b, 'POST', '/auth/login/verify', { body: assertion, address });
      expect(replay.status).toBe(400);
      expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('invalid_challenge');
    });

    it('accepts a session created on one instance on the other', async () => {
      const address = newAddress();
      const authenticator = createSoftwareAuthenticator({ origin });
      await signUp(b, b, 'scale-session', authenticator, address);
      const login = await signIn(a, a, authenticator, address);
      expect(login.status).toBe(200);
      const cookie = sessionCookieOf(login);

      const onB = await call(b, 'GET', '/auth/session', { cookie, address });
      expect(onB.status).toBe(200);
      expect(((await onB.json()) as { user: { username: string } }).user.username).toBe('scale-session');
    });

    it('refuses a session on the other instance at the very next request after logout', async () => {
      const address = newAddress();
      const authenticator = createSoftwareAuthenticator({ origin });
      const cookie = await signUp(a, b, 'scale-logout', authenticator, address);
      // Both instances have just validated it (any cache would now hold it).
      expect((await call(a, 'GET', '/auth/session', { cookie, address })).status).toBe(200);
      expect((await call(b, 'GET', '/auth/session', { cookie, address })).status).toBe(200);

      const logout = await call(a, 'POST', '/auth/logout', { cookie, address });
      expect(logout.status).toBe(204);
      const next = await call(b, 'GET', '/auth/session', { cookie, address });
      expect(next.status).toBe(401);
      expect(((await next.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
      expect((await call(a, 'GET', '/auth/session', { cookie, address })).status).toBe(401);
    });

    it('shares rate limits: requests split across both instances hit one limit', async () => {
      const address = newAddress();
      for (let i = 0; i < perAddressLimit; i++) {
        const response = await call(i % 2 === 0 ? a : b, 'POST', '/auth/login/options', { body: {}, address });
        expect(response.status).toBe(200);
      }
      for (const instance of [a, b]) {
        const refused = await call(instance, 'POST', '/auth/login/options', { body: {}, address });
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      }
      // Another client is not affected.
      expect((await call(b, 'POST', '/auth/login/options', { body: {}, address: newAddress() })).status).toBe(200);
    });

    it("shares signing keys: both publish the same kids and verify each other's tokens", async () => {
      const address = newAddress();
      const authenticator = createSoftwareAuthenticator({ origin });
      const cookie = await signUp(a, b, 'scale-tokens', authenticator, address);

      const mint = async (instance: Instance) => {
        const response = await call(instance, 'POST', '/auth/token', { body: {}, cookie, address });
        expect(response.status).toBe(200);
        return ((await response.json()) as { access_token: string }).access_token;
      };
      const fromA = await mint(a);
      const fromB = await mint(b);

      const kids = async (instance: Instance) => {
        const response = await fetch(`${instance.url}/.well-known/jwks.json`);
        expect(response.status).toBe(200);
        return ((await response.json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid).sort();
      };
      const kidsOfA = await kids(a);
      expect(kidsOfA.length).toBeGreaterThan(0);
      expect(await kids(b)).toEqual(kidsOfA);

      const options = { issuer: origin, audience: origin };
      expect((await verifyAccessToken(fromA, { ...options, jwks: `${b.url}/.well-known/jwks.json` })).sub).toBe(
        (await verifyAccessToken(fromB, { ...options, jwks: `${a.url}/.well-known/jwks.json` })).sub,
      );
    });

    it.runIf(throughPgBouncer)(
      'reached the database through PgBouncer (its admin console lists the connections of the instances as clients)',
      async () => {
        const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${pgbouncer?.port}/pgbouncer` });
        await admin.connect();
        try {
          const name = new URL(database.url as string).pathname.slice(1);
          const clients = (await admin.query('SHOW CLIENTS')).rows.filter(
            (row: { database: string }) => row.database === name,
          );
          expect(clients.length).toBeGreaterThanOrEqual(2);
          const pools = (await admin.query('SHOW POOLS')).rows.filter(
            (row: { database: string }) => row.database === name,
          );
          expect(pools.map((row: { pool_mode: string }) => row.pool_mode)).toContain('transaction');
        } finally {
          await admin.end();
        }
      },
    );
  },
);
