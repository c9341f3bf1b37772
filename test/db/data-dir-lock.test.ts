import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir, lockSocketPath, type DataDirLock } from '../../server/db/data-dir-lock.js';

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
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
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
    expect(l.socketPath).toMatch(/pglite-lock-[0-9a-f]{32}\.sock$/);
    await expect(lockDataDir(dir)).rejects.toThrow(/is in use by another running server/);
    await l.release();
    expect(existsSync(l.socketPath)).toBe(false);
  });
});
