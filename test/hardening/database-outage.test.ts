import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { type DatabaseHandle, openDatabase } from '../../server/db/database.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { PGliteDialect } from '../../server/db/pglite-dialect.js';
import type { Database } from '../../server/db/schema.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { TestClock } from '../helpers/clock.js';
import { checkedApp } from '../helpers/conformance.js';
import { TcpProxy } from './tcp-proxy.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function timed(request: () => Promise<Response>): Promise<{ response: Response; ms: number }> {
  const started = performance.now();
  const response = await request();
  return { response, ms: performance.now() - started };
}

async function expectUnavailable(response: Response) {
  expect(response.status).toBe(503);
  expect(await response.json()).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
}

const headers = { Origin: origin, 'Content-Type': 'application/json' };

describe.runIf(process.env.DATABASE_URL)(
  'PostgreSQL going away and coming back (through a TCP proxy the test controls)',
  () => {
    let t: TestApp;
    let proxy: TcpProxy;
    let handle: DatabaseHandle;
    let app: ReturnType<typeof createApp>;
    let cookie: string;

    const session = () => Promise.resolve(app.request('/auth/session', { headers: { Cookie: cookie } }));
    const health = () => Promise.resolve(app.request('/healthz'));
    const loginOptions = () =>
      Promise.resolve(app.request('/auth/login/options', { method: 'POST', headers, body: '{}' }));

    it('serves through the proxy while the database is there', async () => {
      t = await createTestApp();
      cleanups.push(() => t.close());
      const url = new URL(t.database.url!);
      proxy = await new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) }).start();
      cleanups.push(() => proxy.stop());
      url.host = `127.0.0.1:${proxy.port}`;
      handle = await openDatabase({ databaseUrl: url.toString(), dataDir: '' });
      cleanups.push(() => handle.close());
      app = checkedApp(createApp({ ...t.deps, db: handle.db }));
      ({ cookie } = await t.signUp('outage-user'));

      expect((await health()).status).toBe(200);
      expect((await session()).status).toBe(200);
      expect((await loginOptions()).status).toBe(200);
    });

    it('answers 503 unavailable at once when connections are refused, and /healthz 503', async () => {
      await proxy.cut('refuse');
      for (const request of [session, loginOptions]) {
        const { response, ms } = await timed(request);
        await expectUnavailable(response);
        expect(ms).toBeLessThan(2000);
      }
      expect((await health()).status).toBe(503);
    });

    it('recovers by itself when the database is back, without a restart', async () => {
      await proxy.restore();
      expect((await health()).status).toBe(200);
      expect((await session()).status).toBe(200);
      expect((await loginOptions()).status).toBe(200);
    });

    it('answers 503 within a bounded time when the database stops answering (no hang)', async () => {
      await proxy.cut('blackhole');
      const results = await Promise.all([timed(session), timed(loginOptions), timed(health)]);
      for (const { response, ms } of results) {
        expect(response.status).toBe(503);
        // The pool's connection timeout is 3 s; nothing waits longer than that plus scheduling slack.
        expect(ms).toBeLessThan(8000);
      }
      await expectUnavailable((await timed(session)).response);
    });

    it('recovers again after the silent outage', async () => {
      await proxy.restore();
      await expect.poll(async () => (await health()).status, { timeout: 10_000, interval: 200 }).toBe(200);
      expect((await session()).status).toBe(200);
      const options = await loginOptions();
      expect(options.status).toBe(200);
      // Work done during recovery landed in the same database the direct connection sees.
      const body = (await options.json()) as { challenge: string };
      expect(body.challenge).toMatch(/^[A-Za-z0-9_-]+$/);
    });
  },
);

describe('embedded PGlite closed under the server', () => {
  // PGlite runs inside the process: once closed, an instance cannot be reopened in place (the data
  // lives in that instance, and a new one is a new object the Kysely dialect does not know). So the
  // embedded case checks the outage answers; recovery without restart is tested on PostgreSQL above.
  it('answers 503 unavailable on every route that needs the database, and /healthz 503', async () => {
    const pglite = await PGlite.create();
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    cleanups.push(async () => {
      await db.destroy().catch(() => {});
    });
    await migrateToLatest(db);
    const app = checkedApp(
      createApp({
        db,
        config: loadConfig({ ORIGIN: origin }),
        clock: new TestClock(),
        logger: pino({ level: 'silent' }),
      }),
    );
    expect((await app.request('/healthz')).status).toBe(200);

    await pglite.close();
    const started = performance.now();
    await expectUnavailable(await app.request('/auth/login/options', { method: 'POST', headers, body: '{}' }));
    await expectUnavailable(
      await app.request('/auth/register/options', { method: 'POST', headers, body: '{"username":"closed"}' }),
    );
    await expectUnavailable(
      await app.request('/auth/session', { headers: { Cookie: `__Host-session=${'a'.repeat(20)}.${'b'.repeat(43)}` } }),
    );
    const health = await app.request('/healthz');
    expect(health.status).toBe(503);
    expect(performance.now() - started).toBeLessThan(2000);
    // Requests that need no database still work: the process stays up.
    expect((await app.request('/auth/session')).status).toBe(401);
  });
});
