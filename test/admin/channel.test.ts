import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAdminChannel, writeAdminToken } from '../../server/admin/channel.js';
import { runAdminCli } from '../../server/admin/cli.js';
import { type DataDirLock, lockDataDir } from '../../server/db/data-dir-lock.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

// The admin channel on a real data-folder lock socket, served in this process with a test app's
// dependencies; the CLI's client half is exercised through runAdminCli, the entry point of
// scripts/admin.ts.
let t: TestApp;
let dir: string;
let lock: DataDirLock | null = null;

beforeAll(async () => {
  t = await createTestApp();
  await t.signUp('channel-user');
});
afterAll(async () => {
  await t?.close();
});
afterEach(async () => {
  await lock?.release();
  lock = null;
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function serveChannel(): Promise<{ token: string; socketPath: string }> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'admin-channel-'));
  lock = await lockDataDir(dir);
  const token = await writeAdminToken(lock.path);
  lock.onConnection(createAdminChannel(t.deps, { token, maxLineBytes: 1024 }));
  return { token, socketPath: lock.socketPath };
}

/** Opens a connection and returns a function that sends one line and waits for one answer line. */
async function connect(socketPath: string) {
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setEncoding('utf8');
  let buffered = '';
  const waiting: Array<(line: string | null) => void> = [];
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      waiting.shift()?.(line);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('close', () => waiting.splice(0).forEach((w) => w(null)));
  return {
    ask: (line: string) =>
      new Promise<any>((resolve) => {
        waiting.push((answer) => resolve(answer === null ? null : JSON.parse(answer)));
        socket.write(line);
      }),
    closed,
    close: () => socket.destroy(),
  };
}

function capture() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } },
  };
}

describe('admin channel', () => {
  it('writes the admin token with mode 0600, fresh at each start', async () => {
    const { token } = await serveChannel();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(path.join(lock!.path, 'admin.token'))).mode & 0o777).toBe(0o600);
    expect(await writeAdminToken(lock!.path)).not.toBe(token);
  });

  it('answers several authenticated requests on one connection, including command errors', async () => {
    const { token, socketPath } = await serveChannel();
    const connection = await connect(socketPath);
    const users = await connection.ask(`${JSON.stringify({ token, command: 'users', args: {} })}\n`);
    expect(users.ok).toBe(true);
    expect(users.result.users.map((u: { username: string }) => u.username)).toContain('channel-user');
    expect(
      await connection.ask(`${JSON.stringify({ token, command: 'user', args: { user: 'nobody-at-all' } })}\n`),
    ).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'No user with username or id "nobody-at-all".' },
    });
    expect(
      await connection.ask(`${JSON.stringify({ token, command: 'delete', args: { user: 'channel-user' } })}\n`),
    ).toMatchObject({
      ok: false,
      error: { code: 'usage' },
    });
    expect(await connection.ask(`${JSON.stringify({ token, command: 'rm -rf', args: {} })}\n`)).toMatchObject({
      ok: false,
      error: { code: 'usage' },
    });
    connection.close();
    expect((await runAdminCommandCount()).users).toContain('channel-user');
  });

  it('refuses a wrong token, runs nothing, and closes the connection', async () => {
    const { token, socketPath } = await serveChannel();
    const connection = await connect(socketPath);
    const answer = await connection.ask(
      `${JSON.stringify({ token: `${token}x`, command: 'delete', args: { user: 'channel-user', yes: true } })}\n`,
    );
    expect(answer).toEqual({ ok: false, error: { code: 'unauthorized', message: 'Wrong or missing admin token.' } });
    await connection.closed;
    expect((await runAdminCommandCount()).users).toContain('channel-user');
  });

  it('refuses a request line over the size limit and closes the connection', async () => {
    const { token, socketPath } = await serveChannel();
    const connection = await connect(socketPath);
    const answer = await connection.ask(
      JSON.stringify({ token, command: 'users', args: { padding: 'x'.repeat(2000) } }),
    );
    expect(answer).toMatchObject({ ok: false, error: { code: 'usage' } });
    await connection.closed;
  });
});

describe('admin CLI client half', () => {
  it('sends the command to the server that holds the folder, with the token from the folder', async () => {
    await serveChannel();
    await mkdir(path.join(dir, 'pgdata'));
    const { out, io } = capture();
    const code = await runAdminCli(['users', '--json'], { DATA_DIR: dir, DATABASE_URL: '' }, io);
    expect(out.stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out.stdout).users.map((u: { username: string }) => u.username)).toContain('channel-user');
  });

  it('explains when a server holds the folder but its admin token cannot be read', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'admin-channel-'));
    await mkdir(path.join(dir, 'pgdata'));
    // A server that is still starting: it holds the lock, but has written no token yet.
    lock = await lockDataDir(dir);
    const { out, io } = capture();
    expect(await runAdminCli(['users'], { DATA_DIR: dir, DATABASE_URL: '' }, io)).toBe(1);
    expect(out.stderr).toContain('admin token');
  });

  it('explains when the server holding the folder closes the channel without answering', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'admin-channel-'));
    await mkdir(path.join(dir, 'pgdata'));
    lock = await lockDataDir(dir);
    await writeAdminToken(lock.path);
    // No handler installed: the lock destroys every connection (a server without the channel).
    const { out, io } = capture();
    expect(await runAdminCli(['users'], { DATA_DIR: dir, DATABASE_URL: '' }, io)).toBe(1);
    expect(out.stderr).toContain('closed the admin channel without answering');
  });
});

async function runAdminCommandCount(): Promise<{ users: string[] }> {
  const rows = await t.database.db.selectFrom('app_user').select('username').execute();
  return { users: rows.map((r) => r.username) };
}
