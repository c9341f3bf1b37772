import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../server/db/data-dir-lock.js';
import { openDatabase } from '../../server/db/database.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import {
  type Auth,
  AuthStartError,
  type AuthVariables,
  ConfigError,
  createAuth,
  loadConfig,
} from '../../server/index.js';
import { createSoftwareAuthenticator } from '../../server/testing/index.js';
import { KEY_ENCRYPTION_KEY_FILE } from '../../server/tokens/key-encryption.js';
import { ensureSigningKey } from '../../server/tokens/keys.js';
import { sessionCookieOf } from '../helpers/app.js';
import { TestClock } from '../helpers/clock.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const origin = 'http://localhost:4203';
const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';
const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0';
const silent = pino({ level: 'silent' });
let database: TestDatabase;
let auth: Auth;
let host: Hono<{ Variables: Partial<AuthVariables> }>;

beforeAll(async () => {
  database = await createTestDatabase();
  // A typed config (no environment), an existing Kysely instance, a clock the test moves.
  auth = await createAuth({
    config: { port: 4203, sweep: { interval: 0, sessionRetention: 60 } },
    database: database.db,
    logger: silent,
    clock: new TestClock(),
  });
  await auth.start();
  host = new Hono<{ Variables: Partial<AuthVariables> }>();
  host.get('/', (c) => c.text('host home'));
  host.post('/', (c) => c.text('host post'));
  host.get('/api/me', auth.requireSession(), (c) =>
    c.json({ username: c.var.user?.username, session: c.var.session?.id }),
  );
  host.post('/api/items', auth.requireSession(), (c) => c.json({ ok: true }, 201));
  host.route('/', auth.routes);
});

afterAll(async () => {
  await auth.stop();
  await database.destroy();
});

function request(method: string, url: string, options: { body?: unknown; cookie?: string; userAgent?: string } = {}) {
  const headers: Record<string, string> = { Origin: origin, 'User-Agent': options.userAgent ?? chrome };
  if (options.cookie) headers.Cookie = options.cookie;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  return host.request(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

describe('createAuth', () => {
  it('derives the origin and the token audience from a typed port, over the defaults', () => {
    expect(auth.config.origins).toEqual([origin]);
    expect(auth.config.tokens.audience).toBe(origin);
    expect(auth.config.sweep).toEqual({ interval: 0, sessionRetention: 60 });
    expect(auth.config.session.cookieName).toBe('__Host-session');
  });

  it('refuses a typed config whose origin is not on the RP ID, as the environment would', async () => {
    await expect(
      createAuth({
        config: { rpId: 'example.com', origins: ['https://evil.test'] },
        database: database.db,
        logger: silent,
      }),
    ).rejects.toThrow(ConfigError);
    await expect(
      createAuth({ env: { ORIGIN: 'not an origin' }, database: database.db, logger: silent }),
    ).rejects.toThrow(ConfigError);
  });

  it('leaves every path of the host its own: no demo, no static files, no catch-all', async () => {
    expect(await (await request('GET', '/')).text()).toBe('host home');
    expect(await (await request('POST', '/')).text()).toBe('host post');
    for (const path of ['/demo.js', '/auth-client.js', '/healthz', '/elsewhere']) {
      const response = await request('GET', path);
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('404 Not Found'); // Hono's default: the host's, not the contract's
    }
  });

  it("answers the contract's paths, with 405 for a known path and the wrong method", async () => {
    expect((await request('GET', '/.well-known/jwks.json')).status).toBe(200);
    const wrong = await request('DELETE', '/auth/login/options');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toContain('POST');
    expect(await wrong.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
    const csrf = await host.request('/auth/logout', { method: 'POST', headers: { Origin: 'https://elsewhere.test' } });
    expect(csrf.status).toBe(403);
  });

  it('guards host routes with JSON 401 by itself, then admits the signed-in user', async () => {
    const anonymous = await request('GET', '/api/me');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    expect((await request('POST', '/api/items', { body: {} })).status).toBe(401);
    expect((await request('GET', '/api/me', { cookie: '__Host-session=forged.value' })).status).toBe(401);

    const authenticator = createSoftwareAuthenticator({ origin });
    const options = await request('POST', '/auth/register/options', { body: { username: 'embedded' } });
    const verified = await request('POST', '/auth/register/verify', {
      body: authenticator.createCredential(await options.json()),
    });
    expect(verified.status).toBe(201);
    const cookie = sessionCookieOf(verified) as string;
    const me = await request('GET', '/api/me', { cookie });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ username: 'embedded', session: expect.any(String) });
    expect((await request('POST', '/api/items', { cookie, body: {} })).status).toBe(201);

    // The same cookie from another browser and OS needs a passkey re-verification (risk policy): 403 JSON.
    const elsewhere = await request('GET', '/api/me', { cookie, userAgent: firefox });
    expect(elsewhere.status).toBe(403);
    expect(await elsewhere.json()).toMatchObject({ error: { code: 'reauthentication_required' } });
  });

  it('does not close a Kysely instance it was given', async () => {
    const other = await createAuth({ config: { port: 4203 }, database: database.db, logger: silent });
    await other.start({ migrate: false });
    await other.stop();
    await other.stop();
    expect((await sql<{ one: number }>`select 1 as one`.execute(database.db)).rows[0]?.one).toBe(1);
    await expect(other.start()).rejects.toThrow(/stopped/);
  });
});

describe('createAuth on its own embedded database', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-embed-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('migrates, serves the admin channel, and releases the folder on stop', async () => {
    const embedded = await createAuth({ env: { ORIGIN: origin, DATA_DIR: dataDir }, logger: silent });
    expect(embedded.databaseKind).toBe('pglite');
    await embedded.start();
    expect(existsSync(path.join(dataDir, 'admin.token'))).toBe(true);
    expect(await embedded.healthy()).toBe(true);
    expect((await embedded.routes.request('/.well-known/jwks.json')).status).toBe(200);
    await embedded.stop();
    // The folder is free again: another process (or instance) may take it.
    const lock = await lockDataDir(dataDir);
    await lock.release();
  }, 60_000);

  it('gives the embedded database a key-encryption key of its own and seals keys stored in the clear at start', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'auth-embed-kek-'));
    // A signing key written in the clear, as before the server had a key-encryption key.
    const before = await openDatabase({ databaseUrl: null, dataDir: folder });
    await migrateToLatest(before.db);
    await ensureSigningKey(before.db, loadConfig({ ORIGIN: origin }).tokens, new Date());
    await before.close();

    const embedded = await createAuth({ env: { ORIGIN: origin, DATA_DIR: folder }, logger: silent });
    try {
      expect(embedded.config.tokens.keyEncryptionKey).toHaveLength(32);
      expect(existsSync(path.join(folder, KEY_ENCRYPTION_KEY_FILE))).toBe(true);
      await embedded.start();
      const rows = await embedded.db.selectFrom('signing_key').select(['kid', 'private_key_encryption']).execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.private_key_encryption).toBe('aes-256-gcm');
      // The sealed key still signs: the JWKS answers with its kid.
      const jwks = (await (await embedded.routes.request('/.well-known/jwks.json')).json()) as {
        keys: { kid: string }[];
      };
      expect(jwks.keys.map((key) => key.kid)).toContain(rows[0]!.kid);
    } finally {
      await embedded.stop();
      await rm(folder, { recursive: true, force: true });
    }
  }, 120_000);

  it('fails to start with an AuthStartError naming an unreachable database', async () => {
    const unreachable = await createAuth({
      env: { ORIGIN: origin },
      database: 'postgres://app:pw@127.0.0.1:9/auth',
      logger: silent,
    });
    const error = await unreachable.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthStartError);
    expect((error as Error).message).toMatch(/^Cannot reach the database at 127\.0\.0\.1:9\/auth: ECONNREFUSED/);
    expect((error as Error).message).not.toContain('pw');
    await unreachable.stop();
  }, 30_000);
});
