import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { type RunningServer, startServer } from '../browser/harness.js';

// The real server (`node --import tsx server/main.ts`) started wrongly, as a newcomer might: each
// mistake ends in one line on stderr that names the cause, a non-zero exit, and no stack.
const root = fileURLToPath(new URL('../../', import.meta.url));
const folders: string[] = [];
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop().catch(() => {});
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'auth-startup-'));
  folders.push(dir);
  return dir;
}

/** Runs the server to its exit; resolves with the exit code and what it wrote. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: root,
      env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not exit:\n${stdout}${stderr}`));
    }, 180_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function oneLine(text: string): string {
  const lines = text.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(text).not.toMatch(/^\s+at /m);
  return lines[0] as string;
}

describe('the origin', () => {
  it('follows PORT and RP_ID when ORIGIN is unset', () => {
    expect(loadConfig({ PORT: '4203' }).origins).toEqual(['http://localhost:4203']);
    expect(loadConfig({}).origins).toEqual(['http://localhost:3000']);
    expect(loadConfig({ RP_ID: 'example.com', PORT: '8080' }).origins).toEqual(['https://example.com']);
    expect(loadConfig({ PORT: '4203' }).tokens.audience).toBe('http://localhost:4203');
  });

  it('is http://localhost:PORT for a server started with only PORT, and a refused origin logs one warning naming both', async () => {
    const server = await startServer({ ORIGIN: '', DATABASE_URL: '' });
    servers.push(server);
    const ok = await fetch(`${server.origin}/auth/login/options`, {
      method: 'POST',
      headers: { Origin: server.origin, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(ok.status).toBe(200);

    const refused = await fetch(`${server.origin}/auth/login/options`, {
      method: 'POST',
      headers: { Origin: 'http://localhost:3000', 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(403);
    await expect
      .poll(
        () =>
          server.output
            .join('')
            .split('\n')
            .filter((line) => line.includes('request refused')),
        { timeout: 5000 },
      )
      .toHaveLength(1);
    const warning = JSON.parse(
      server.output
        .join('')
        .split('\n')
        .find((line) => line.includes('request refused')) as string,
    );
    expect(warning).toMatchObject({ level: 40, origin: 'http://localhost:3000', allowed: [server.origin] });
    expect(warning.msg).toContain(server.origin);
  }, 240_000);
});

describe('a server that cannot start', () => {
  it('names an unreachable database in one line, without its password, and exits 1', async () => {
    const port = await closedPort();
    const { code, stderr } = await runToExit({
      PORT: '0',
      DATABASE_URL: `postgres://app:hunter2-password@127.0.0.1:${port}/auth`,
    });
    expect(code).toBe(1);
    const line = oneLine(stderr);
    expect(line).toContain(`Cannot reach the database at 127.0.0.1:${port}/auth`);
    expect(line).toContain('ECONNREFUSED');
    expect(stderr).not.toContain('hunter2');
  }, 240_000);

  it('names a port in use in one line and exits 1', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const { code, stderr } = await runToExit({ PORT: String(port), DATABASE_URL: '', DATA_DIR: await tempDir() });
      expect(code).toBe(1);
      expect(oneLine(stderr)).toContain(`Port ${port} is in use (EADDRINUSE)`);
    } finally {
      taken.close();
    }
  }, 240_000);

  it('names the migration that failed in one line and exits 1', async () => {
    const dataDir = await tempDir();
    // A table in the way of the first migration.
    const pglite = await PGlite.create(path.join(dataDir, 'pgdata'));
    await pglite.exec('CREATE TABLE app_user (id int)');
    await pglite.close();
    const { code, stderr } = await runToExit({ PORT: '0', DATABASE_URL: '', DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(/Migration 2026-11-29T00-00_initial failed: .*app_user.*already exists/);
  }, 240_000);

  it('never prints the value of a secret in a configuration error', async () => {
    const secrets = {
      INTROSPECTION_SECRET: 'too-short-introspection-secret',
      TOKEN_KEY_ENCRYPTION_KEY: 'not-a-32-byte-key-but-a-secret',
      WEBHOOK_URL: 'https://hook-user:webhook-password@hooks.example.com/',
      WEBHOOK_SECRET: 'tiny-webhook-secret',
      DATABASE_URL: 'mysql://db-user:database-password@db.example.com/auth',
    };
    const { code, stderr } = await runToExit({ ...secrets, PORT: '0' });
    expect(code).toBe(2);
    for (const [name, value] of Object.entries(secrets)) {
      expect(stderr).toContain(name);
      expect(stderr).not.toContain(value);
    }
    expect(stderr).not.toMatch(/password|secret-/);
  }, 240_000);
});
