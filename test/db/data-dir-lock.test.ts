import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkLockSocket, type DataDirLock, lockDataDir, lockSocketPath } from '../../server/db/data-dir-lock.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const moduleUrl = pathToFileURL(path.join(projectRoot, 'server/db/data-dir-lock.ts')).href;

describe('lockDataDir', () => {
  let tmp: string;
  const locks: DataDirLock[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'data-dir-lock-'));
  });

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const lock of locks.splice(0)) await lock.release();
    await rm(tmp, { recursive: true, force: true });
  });

  async function lock(dir: string): Promise<DataDirLock> {
    const l = await lockDataDir(dir);
    locks.push(l);
    return l;
  }

  /** Starts a child process that takes the lock and then idles; resolves once it holds it. */
  async function lockInChild(dir: string): Promise<ChildProcess> {
    const script = path.join(tmp, 'child.mts');
    await writeFile(
      script,
      `import { lockDataDir } from ${JSON.stringify(moduleUrl)};\n` +
        `await lockDataDir(process.argv[2]);\n` +
        `process.stdout.write('locked\\n');\n` +
        `setInterval(() => {}, 1 << 30);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('locked')) resolve();
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}): ${err}`)));
    });
    return child;
  }

  it('creates the folder and writes the socket and pid files', async () => {
    const dir = path.join(tmp, 'nested', 'data');
    const l = await lock(dir);
    expect(existsSync(dir)).toBe(true);
    expect(l.socketPath).toBe(path.join(l.path, 'server.sock'));
    expect(existsSync(l.socketPath)).toBe(true);
    expect((await readFile(path.join(dir, 'server.pid'), 'utf8')).trim()).toBe(String(process.pid));
  });

  it('refuses a second lock on the same folder in the same process', async () => {
    const dir = path.join(tmp, 'data');
    await lock(dir);
    await expect(lockDataDir(dir)).rejects.toThrow(
      `Data folder ${dir} is in use by another running server (pid ${process.pid}). Stop it first, or point DATA_DIR elsewhere.`,
    );
    // Another spelling of the same folder maps to the same lock.
    await expect(lockDataDir(path.join(dir, '..', 'data'))).rejects.toThrow(/is in use by another running server/);
  });

  it('refuses a lock held by a child process, and recovers after the child is SIGKILLed', async () => {
    const dir = path.join(tmp, 'data');
    const child = await lockInChild(dir);
    await expect(lockDataDir(dir)).rejects.toThrow(
      `Data folder ${dir} is in use by another running server (pid ${child.pid}).`,
    );

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // The crashed holder left its socket file behind.
    expect(existsSync(path.join(dir, 'server.sock'))).toBe(true);

    const l = await lock(dir);
    expect((await readFile(path.join(dir, 'server.pid'), 'utf8')).trim()).toBe(String(process.pid));
    expect(existsSync(l.socketPath)).toBe(true);
  }, 30_000);

  it('a child process is refused while the parent holds the lock', async () => {
    const dir = path.join(tmp, 'data');
    await lock(dir);
    await expect(lockInChild(dir)).rejects.toThrow(/in use by another running server \(pid \d+\)/);
  }, 30_000);

  it('release removes the files, and the folder can be locked again', async () => {
    const dir = path.join(tmp, 'data');
    const first = await lockDataDir(dir);
    await first.release();
    await first.release(); // idempotent
    expect(existsSync(path.join(dir, 'server.sock'))).toBe(false);
    expect(existsSync(path.join(dir, 'server.pid'))).toBe(false);
    const second = await lock(dir);
    expect(existsSync(second.socketPath)).toBe(true);
  });

  it('destroys incoming connections by default and hands them to onConnection once set', async () => {
    const l = await lock(path.join(tmp, 'data'));
    const closedByServer = await new Promise<boolean>((resolve) => {
      const s = net.connect(l.socketPath);
      s.on('error', () => resolve(true));
      s.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 2000);
    });
    expect(closedByServer).toBe(true);

    l.onConnection((socket) => socket.end('hello\n'));
    const reply = await new Promise<string>((resolve, reject) => {
      let data = '';
      const s = net.connect(l.socketPath);
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    expect(reply).toBe('hello\n');
  });

  it('falls back to a socket under os.tmpdir() when the path is too long', async () => {
    const dir = path.join(tmp, 'x'.repeat(60), 'y'.repeat(60));
    const l = await lock(dir);
    expect(path.dirname(l.socketPath)).not.toBe(l.path);
    expect(l.socketPath).toBe(lockSocketPath(l.path));
    expect(Buffer.byteLength(l.socketPath)).toBeLessThanOrEqual(103);
    expect(l.socketPath).toMatch(/pglite-\d+\/[0-9a-f]{32}\.sock$/);
    // In a private runtime folder of this user, never a guessable name in shared /tmp.
    const parent = statSync(path.dirname(l.socketPath));
    expect(parent.uid).toBe(process.getuid!());
    expect(parent.mode & 0o077).toBe(0);
    await expect(lockDataDir(dir)).rejects.toThrow(/is in use by another running server/);
    await l.release();
    expect(existsSync(l.socketPath)).toBe(false);
  });

  /** Leaves a socket file at `socketPath` that nobody listens on, as a crashed holder does. */
  async function staleSocket(socketPath: string): Promise<void> {
    const scratch = `${socketPath}.scratch`;
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(scratch, resolve));
    const { link } = await import('node:fs/promises');
    await link(scratch, socketPath);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(existsSync(socketPath)).toBe(true);
  }

  it('lets exactly one of two processes starting at once after a crash take the lock', async () => {
    const dir = path.join(tmp, 'data');
    const first = await lockDataDir(dir);
    const socketPath = first.socketPath;
    await first.release();
    for (let trial = 0; trial < 20; trial++) {
      await staleSocket(socketPath);
      const results = await Promise.allSettled([lockDataDir(dir), lockDataDir(dir)]);
      const held = results.filter((r): r is PromiseFulfilledResult<DataDirLock> => r.status === 'fulfilled');
      for (const h of held) await h.value.release();
      expect(held, `trial ${trial}`).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(String(refused.reason)).toMatch(/in use by another running server/);
      expect(existsSync(path.join(dir, 'server.takeover'))).toBe(false);
    }
  }, 60_000);

  it('makes an existing 0755 folder and every file in it private, so another OS user reads nothing', async () => {
    chmodSync(tmp, 0o755);
    const dir = path.join(tmp, 'data');
    mkdirSync(path.join(dir, 'pgdata', 'pg_wal'), { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, 'pgdata', 'pg_wal', '000000010000000000000001'), 'signing key in the clear', {
      mode: 0o666,
    });
    chmodSync(path.join(dir, 'pgdata', 'pg_wal', '000000010000000000000001'), 0o666);
    writeFileSync(path.join(dir, 'pgdata', 'postgresql.conf'), 'x', { mode: 0o644 });
    await lock(dir);
    const modes: string[] = [];
    const walk = (p: string) => {
      const info = lstatSync(p);
      if (info.mode & 0o077) modes.push(`${p} ${(info.mode & 0o777).toString(8)}`);
      if (info.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
    };
    walk(dir);
    expect(modes).toEqual([]);
    if (process.getuid?.() === 0) {
      // As a second OS user: nothing in the folder can be listed or read.
      const asNobody = (...argv: string[]) => {
        try {
          return execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv], {
            stdio: 'pipe',
          }).toString();
        } catch (error) {
          return `refused: ${(error as { stderr?: Buffer }).stderr?.toString() ?? ''}`;
        }
      };
      expect(asNobody('ls', tmp)).toContain('data');
      expect(asNobody('ls', dir)).toMatch(/^refused: .*Permission denied/);
      expect(asNobody('cat', path.join(dir, 'pgdata', 'pg_wal', '000000010000000000000001'))).toMatch(
        /^refused: .*Permission denied/,
      );
    }
  });

  it.runIf(process.getuid?.() === 0)('refuses a folder that belongs to another user, naming the fix', async () => {
    const dir = path.join(tmp, 'theirs');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, 65534, 65534);
    await expect(lockDataDir(dir)).rejects.toThrow(
      /belongs to uid 65534, not to the user running the server \(uid 0\).*chown -R 0/,
    );
  });

  it('refuses a runtime folder for long paths that is not private to this user', async () => {
    const saved = process.env.TMPDIR;
    const shared = path.join(tmp, 'shared-tmp');
    mkdirSync(path.join(shared, `pglite-${process.getuid!()}`), { recursive: true, mode: 0o777 });
    chmodSync(path.join(shared, `pglite-${process.getuid!()}`), 0o777);
    process.env.TMPDIR = shared;
    try {
      await expect(lockDataDir(path.join(tmp, 'x'.repeat(60), 'y'.repeat(60)))).rejects.toThrow(
        /not a folder of this user with mode 0700/,
      );
    } finally {
      process.env.TMPDIR = saved;
      if (saved === undefined) delete process.env.TMPDIR;
    }
  });

  it.runIf(process.getuid?.() === 0)('the CLI check refuses a lock socket that another user owns', async () => {
    const l = await lock(path.join(tmp, 'data'));
    await expect(checkLockSocket(l.path, l.socketPath)).resolves.toBeUndefined();
    const planted = path.join(tmp, 'planted.sock');
    await staleSocket(planted);
    chownSync(planted, 65534, 65534);
    await expect(checkLockSocket(l.path, planted)).rejects.toThrow(
      /belongs to uid 65534, not to the data folder's owner/,
    );
    chownSync(planted, 0, 0);
    chmodSync(tmp, 0o777);
    await expect(checkLockSocket(l.path, planted)).rejects.toThrow(/another user can write to/);
  });
});
