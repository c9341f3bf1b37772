import { spawn } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCli } from '../../server/admin/cli.js';
import { createApp } from '../../server/app.js';
import { systemClock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { lockSocketPath } from '../../server/db/data-dir-lock.js';
import { openDatabase } from '../../server/db/database.js';
import { type RunningServer, startServer } from '../browser/harness.js';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';
import { checkedApp } from '../helpers/conformance.js';

// The admin CLI run for real, as `npm run admin` runs it: a child process in the repository root.
const root = fileURLToPath(new URL('../../', import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function admin(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function json<T = any>(result: CliResult): T {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** A browser-like HTTP client for a running server. */
function httpClient(origin: string) {
  const post = (pathname: string, body: unknown, cookie?: string | null) =>
    fetch(origin + pathname, {
      method: 'POST',
      headers: { Origin: origin, 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
      body: JSON.stringify(body),
    });
  return {
    session: (cookie: string | null) => fetch(`${origin}/auth/session`, { headers: cookie ? { Cookie: cookie } : {} }),
    async signUp(username: string): Promise<{ cookie: string; userId: string; authenticator: SoftwareAuthenticator }> {
      const authenticator = createSoftwareAuthenticator({ origin });
      const options = await post('/auth/register/options', { username });
      expect(options.status).toBe(200);
      const verify = await post('/auth/register/verify', authenticator.createCredential(await options.json()));
      expect(verify.status).toBe(201);
      const cookie = sessionCookieOf(verify);
      if (!cookie) throw new Error('no session cookie');
      return { cookie, userId: ((await verify.json()) as { user: { id: string } }).user.id, authenticator };
    },
    async signIn(authenticator: SoftwareAuthenticator): Promise<Response> {
      const options = await post('/auth/login/options', {});
      return post('/auth/login/verify', authenticator.getAssertion(await options.json()));
    },
  };
}

/**
 * Sends raw lines to the admin socket and collects what the server answers until the connection
 * closes; with `closeAfterAnswer`, the client closes after the first answer line (the server keeps an
 * authenticated connection open for further requests).
 */
function rawExchange(socketPath: string, payload: string, closeAfterAnswer = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (closeAfterAnswer && received.includes('\n')) socket.end();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(received));
    socket.write(payload);
  });
}

describe('admin CLI against a running server on PGlite (through its admin channel)', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let dataDir: string;
  let http: ReturnType<typeof httpClient>;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'admin-cli-'));
    env = { DATA_DIR: dataDir, DATABASE_URL: '' };
    server = await startServer(env);
    http = httpClient(server.origin);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('lists users and shows one user with passkeys, sessions and events', async () => {
    const { userId, cookie } = await http.signUp('cli-listed');
    const { users } = json<{ users: Array<Record<string, unknown>> }>(await admin(['users', '--json'], env));
    expect(users.find((u) => u.id === userId)).toMatchObject({
      username: 'cli-listed',
      disabledAt: null,
      passkeys: 1,
      sessions: 1,
    });

    const table = await admin(['users'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+USERNAME\s+CREATED\s+DISABLED\s+PASSKEYS\s+SESSIONS/);
    expect(table.stdout).toContain('cli-listed');

    const detail = await admin(['user', 'cli-listed'], env);
    expect(detail.code).toBe(0);
    expect(detail.stdout).toContain(`ID          ${userId}`);
    expect(detail.stdout).toContain('Passkeys (1)');
    expect(detail.stdout).toContain(`Live sessions (1)`);
    expect(detail.stdout).toContain(cookie.split('=')[1]!.split('.')[0]);
    // Never the session secret.
    expect(detail.stdout).not.toContain(cookie.split('.')[1]);
  });

  it('disable: the next request answers 401 and a new login 403 account_disabled; enable lets the user back in', async () => {
    const { userId, cookie, authenticator } = await http.signUp('cli-disabled');
    const disable = await admin(['disable', 'cli-disabled'], env);
    expect(disable).toMatchObject({ code: 0, stderr: '' });
    expect(disable.stdout).toContain('Disabled cli-disabled');
    expect(disable.stdout).toContain('revoked 1 session(s)');

    expect((await http.session(cookie)).status).toBe(401);
    const refused = await http.signIn(authenticator);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('account_disabled');

    const shown = json<{ user: { disabledAt: string | null }; events: Array<{ type: string; actor: string }> }>(
      await admin(['user', userId, '--json'], env),
    );
    expect(shown.user.disabledAt).not.toBeNull();
    expect(shown.events).toContainEqual(expect.objectContaining({ type: 'user_disabled', actor: 'admin' }));

    expect(json(await admin(['enable', 'cli-disabled', '--json'], env))).toMatchObject({ changed: true });
    const login = await http.signIn(authenticator);
    expect(login.status).toBe(200);
    expect((await http.session(sessionCookieOf(login))).status).toBe(200);
  });

  it('revoke-sessions ends every session of the user', async () => {
    const { cookie, authenticator } = await http.signUp('cli-revoked');
    const second = sessionCookieOf(await http.signIn(authenticator));
    expect(json(await admin(['revoke-sessions', 'cli-revoked', '--json'], env))).toMatchObject({ revokedSessions: 2 });
    expect((await http.session(cookie)).status).toBe(401);
    expect((await http.session(second)).status).toBe(401);
  });

  it('delete requires --yes (exit 2), then removes the user', async () => {
    const { cookie } = await http.signUp('cli-deleted');
    const unconfirmed = await admin(['delete', 'cli-deleted'], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    expect((await http.session(cookie)).status).toBe(200);

    const deleted = await admin(['delete', 'cli-deleted', '--yes'], env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain('Deleted cli-deleted');
    expect((await http.session(cookie)).status).toBe(401);

    const gone = await admin(['user', 'cli-deleted'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('No user with username or id "cli-deleted"');
  });

  it('answers an unknown user with exit 1 and a clear message (also as JSON)', async () => {
    const result = await admin(['disable', 'no-such-user'], env);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr.trim()).toBe('No user with username or id "no-such-user".');
    const asJson = await admin(['disable', 'no-such-user', '--json'], env);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stderr)).toEqual({
      error: { code: 'not_found', message: 'No user with username or id "no-such-user".' },
    });
  });

  it('keeps the admin socket and token file private to the server user (mode 0600)', async () => {
    const canonical = await realpath(dataDir);
    expect((await stat(path.join(canonical, 'admin.token'))).mode & 0o777).toBe(0o600);
    expect((await stat(lockSocketPath(canonical))).mode & 0o777).toBe(0o600);
  });

  it('refuses a request with a wrong, missing or malformed admin token and closes the connection', async () => {
    const socketPath = lockSocketPath(await realpath(dataDir));
    for (const payload of [
      `${JSON.stringify({ token: 'wrong-token', command: 'users', args: {} })}\n`,
      `${JSON.stringify({ command: 'delete', args: { user: 'cli-listed', yes: true }, wrongToken: true })}\n`,
      '{"wrong json\n',
    ]) {
      const answer = await rawExchange(socketPath, payload);
      expect(JSON.parse(answer.trim())).toEqual({
        ok: false,
        error: { code: 'unauthorized', message: expect.any(String) },
      });
    }
    // With the token from the file, the same socket answers.
    const token = (await readFile(path.join(dataDir, 'admin.token'), 'utf8')).trim();
    const answer = JSON.parse(
      (await rawExchange(socketPath, `${JSON.stringify({ token, command: 'users', args: {} })}\n`, true)).trim(),
    );
    expect(answer.ok).toBe(true);
    expect(answer.result.users.length).toBeGreaterThan(0);
  });
});

describe('admin CLI on a PGlite folder with no server running', { timeout: 240_000 }, () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'admin-cli-direct-'));
    env = { DATA_DIR: dataDir, DATABASE_URL: '' };
  });
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('opens the folder itself, takes and releases its lock, and the changes hold for the next server', async () => {
    // A user registered through a real server, which then stops.
    const server = await startServer(env);
    let registered;
    try {
      registered = await httpClient(server.origin).signUp('direct-user');
    } finally {
      await server.stop();
    }
    const { userId, cookie, authenticator } = registered;

    const { users } = json<{ users: Array<{ id: string; sessions: number }> }>(await admin(['users', '--json'], env));
    expect(users).toEqual([expect.objectContaining({ id: userId, sessions: 1 })]);
    expect(json(await admin(['disable', 'direct-user', '--json'], env))).toMatchObject({
      changed: true,
      revokedSessions: 1,
    });

    // The CLI released the lock: the server's code opens the folder again and sees the change.
    const database = await openDatabase({ databaseUrl: null, dataDir });
    try {
      const config = loadConfig({ ORIGIN: 'http://localhost:3000', DATA_DIR: dataDir });
      const app = checkedApp(
        createApp({ db: database.db, config, clock: systemClock, logger: pino({ level: 'silent' }) }),
      );
      expect((await app.request('/auth/session', { headers: { Cookie: cookie } })).status).toBe(401);
      const post = (pathname: string, body: unknown) =>
        app.request(pathname, {
          method: 'POST',
          headers: { Origin: 'http://localhost:3000', 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      const options = await (await post('/auth/login/options', {})).json();
      // The authenticator was made for the server's origin; sign for this app's origin instead.
      const login = await post(
        '/auth/login/verify',
        authenticator.getAssertion(options, { origin: 'http://localhost:3000' }),
      );
      expect(login.status).toBe(403);
      expect(((await login.json()) as { error: { code: string } }).error.code).toBe('account_disabled');
    } finally {
      await database.close();
    }
  });

  it('answers exit 1 with a clear message when DATA_DIR holds no database', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'admin-cli-empty-'));
    try {
      const result = await admin(['users'], { DATA_DIR: empty, DATABASE_URL: '' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`No database in DATA_DIR`);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('admin CLI usage', { timeout: 180_000 }, () => {
  const env = { DATA_DIR: path.join(os.tmpdir(), 'admin-cli-never-opened'), DATABASE_URL: '' };

  it('prints the usage text with help and exits 0', async () => {
    const result = await admin(['help'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: npm run admin -- <command>');
    for (const command of [
      'users',
      'user <username|id>',
      'disable',
      'enable',
      'revoke-sessions',
      'delete <username|id> --yes',
      'keys:rotate',
    ]) {
      expect(result.stdout).toContain(command);
    }
  });

  it('exits 2 with the usage text for an unknown command and for delete without --yes', async () => {
    for (const [args, message] of [
      [['frobnicate'], 'Unknown command "frobnicate".'],
      [['delete', 'someone'], 'add --yes to confirm'],
    ] as const) {
      const result = await admin([...args], env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain('Usage: npm run admin');
    }
  });

  // The same entry point in-process (one child process per case would cost seconds each): none of
  // these gets as far as opening a database.
  it.each([
    [[], 'No command given.'],
    [['--help', 'users'], null],
    [['disable'], 'disable needs exactly one user'],
    [['user', 'a', 'b'], 'user needs exactly one user'],
    [['users', 'extra'], 'users takes no arguments.'],
    [['users', '--force'], 'Unknown option --force.'],
    [['enable', 'someone', '--yes'], '--yes applies only to delete.'],
    [['delete', 'someone', '--json'], 'add --yes to confirm'],
  ])('answers %j with its exit code and message', async (args, message) => {
    let stdout = '';
    let stderr = '';
    const code = await runAdminCli(args, env, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    if (message === null) {
      expect(code).toBe(0);
      expect(stdout).toContain('Usage: npm run admin');
      return;
    }
    expect(code).toBe(2);
    expect(stdout).toBe('');
    if (args.includes('--json')) {
      expect(JSON.parse(stderr).error).toMatchObject({ code: 'usage', message: expect.stringContaining(message) });
    } else {
      expect(stderr).toContain(message);
      expect(stderr).toContain('Usage: npm run admin');
    }
  });

  it('exits 2 on invalid configuration', async () => {
    const code = await runAdminCli(
      ['users'],
      { ...env, DATABASE_URL: 'mysql://nope' },
      { stdout: { write: () => true }, stderr: { write: () => true } },
    );
    expect(code).toBe(2);
  });
});

describe.skipIf(!process.env.DATABASE_URL)(
  'admin CLI with DATABASE_URL (PostgreSQL, direct)',
  { timeout: 240_000 },
  () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(async () => {
      await t?.close();
    });

    it('lists, disables, enables and deletes users straight in the database', async () => {
      const env = { DATABASE_URL: t.database.url!, DATA_DIR: path.join(os.tmpdir(), 'admin-cli-never-opened') };
      const { user, cookie, authenticator } = await t.signUp('pg-user');
      const { users } = json<{ users: Array<{ id: string; sessions: number }> }>(await admin(['users', '--json'], env));
      expect(users).toContainEqual(expect.objectContaining({ id: user.id, sessions: 1 }));

      expect(json(await admin(['disable', 'pg-user', '--json'], env))).toMatchObject({
        changed: true,
        revokedSessions: 1,
      });
      expect((await t.get('/auth/session', cookie)).status).toBe(401);
      const refused = await t.signIn(authenticator);
      expect(refused.status).toBe(403);
      expect((await refused.json()).error.code).toBe('account_disabled');

      expect(json(await admin(['enable', user.id, '--json'], env))).toMatchObject({ changed: true });
      expect((await t.signIn(authenticator)).status).toBe(200);

      expect((await admin(['user', 'pg-nobody'], env)).code).toBe(1);
      expect(json(await admin(['delete', 'pg-user', '--yes', '--json'], env))).toMatchObject({ deleted: true });
      expect(
        json<{ users: Array<{ id: string }> }>(await admin(['users', '--json'], env)).users.map((u) => u.id),
      ).not.toContain(user.id);
    });
  },
);
