import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/free-port.js';
import { TcpProxy } from './tcp-proxy.js';

// The real server process (`node --import tsx server/main.ts`, as `npm start` runs it) with stdout
// and stderr on pipes this test does not read (Node's own pipe reader stops after its 16 KiB
// buffer, and the kernel's 64 KiB pipe fills behind it, as under `npm start 2>&1 | sleep 600`).
// Every request logs a line (LOG_LEVEL=debug), a few thousand lines more than the pipe holds.

const root = fileURLToPath(new URL('../../', import.meta.url));
const SHUTDOWN_TIMEOUT = 2;
/** What a process may take beyond the window to be gone (the exit itself, on a loaded machine). */
const EXIT_MARGIN_MS = 4000;
const onPostgres = Boolean(process.env.DATABASE_URL);

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

interface Server {
  child: ChildProcess;
  origin: string;
  agent: http.Agent;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** What the pipes held, read from the moment the process exits. */
  output: Promise<string>;
}

/** A database of the test's own on PostgreSQL (optionally behind a proxy), '' for embedded PGlite. */
async function databaseUrl(options: { proxy?: boolean } = {}): Promise<{ url: string; proxy: TcpProxy | null }> {
  if (!onPostgres) return { url: '', proxy: null };
  const database: TestDatabase = await createTestDatabase();
  cleanups.push(() => database.destroy());
  if (!options.proxy) return { url: database.url!, proxy: null };
  const url = new URL(database.url!);
  const proxy = await new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) }).start();
  cleanups.push(() => proxy.stop());
  url.host = `127.0.0.1:${proxy.port}`;
  return { url: url.toString(), proxy };
}

async function startUnreadServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-logpipe-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ORIGIN: origin,
      RP_ID: 'localhost',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'debug',
      LOG_BUFFER_BYTES: '65536',
      SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT),
      SWEEP_INTERVAL: '0',
      RATE_LIMIT_PER_ADDRESS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // No 'data' listener: nobody reads these pipes until the test says so.
  child.stdout!.pause();
  child.stderr!.pause();
  let output!: Promise<string>;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      // Read in the 'exit' event itself: a tick later, Node resumes a child's unread pipes with no
      // listener (child_process flushStdio) and what they held is gone, 'end' included.
      output = readAll(child);
      resolve({ code, signal, at: performance.now() });
    }),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  cleanups.push(async () => agent.destroy());
  const server = {
    child,
    origin,
    agent,
    exited,
    get output() {
      return output;
    },
  };
  // Ready when /healthz answers (stdout is not read, so not by the "listening" line).
  const started = Date.now();
  for (;;) {
    const status = await get(server, '/healthz').catch(() => 0);
    if (status === 200) return server;
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() - started > 150_000) throw new Error('server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function get(server: Server, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${server.origin}${pathname}`, { agent: server.agent }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    request.once('error', reject);
  });
}

/** `count` requests, `concurrency` at a time on keep-alive connections; the statuses seen. */
async function load(server: Server, count: number, concurrency = 16): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const status = await get(server, '/healthz');
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

/** Sends SIGTERM; resolves with the exit and how long after the signal it came. */
async function terminate(server: Server): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const sent = performance.now();
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  return { code: exit.code, signal: exit.signal, ms: exit.at - sent };
}

/** What the pipes held, read once the process is gone. */
async function readAll(child: ChildProcess): Promise<string> {
  const chunks: string[] = [];
  const read = (stream: Readable) =>
    new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
      // A pipe that never carried a byte (stderr, often) may have ended already, 'end' emitted.
      if (stream.readableEnded) return resolve();
      stream.once('end', () => resolve());
      stream.resume();
    });
  await Promise.all([read(child.stdout!), read(child.stderr!)]);
  return chunks.join('');
}

/** What the pipes held when the test finally reads them (after the process is gone). */
async function drainOutput(server: Server): Promise<string> {
  await server.exited;
  return server.output;
}

describe('a log pipe nobody reads', () => {
  it('keeps answering 5,000 requests, and exits 0 within the shutdown window after SIGTERM', async () => {
    const { url } = await databaseUrl();
    const server = await startUnreadServer({ DATABASE_URL: url });

    const statuses = await load(server, 5000);
    expect(Object.fromEntries(statuses)).toEqual({ 200: 5000 });
    expect(await get(server, '/healthz')).toBe(200);

    const exit = await terminate(server);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT * 1000 + EXIT_MARGIN_MS);

    // The pipe really was stuck: of more than 5,000 request lines (≈ 1 MB), it holds what fits in
    // the kernel's and Node's buffers.
    const output = await drainOutput(server);
    expect(output).toContain('listening on');
    const requestLines = output.split('\n').filter((line) => line.includes('"msg":"request"')).length;
    expect(requestLines).toBeGreaterThan(10);
    expect(requestLines).toBeLessThan(2500);
  }, 480_000);

  it('exits within the shutdown window when a client never finishes its request', async () => {
    const { url } = await databaseUrl();
    const server = await startUnreadServer({ DATABASE_URL: url });
    await load(server, 1500);

    // A request whose body never completes keeps the listener from closing gracefully.
    const port = Number(new URL(server.origin).port);
    const stuck = net.connect(port, '127.0.0.1');
    stuck.on('error', () => {});
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write(
      `POST /auth/login/options HTTP/1.1\r\nHost: localhost:${port}\r\nOrigin: ${server.origin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));

    const exit = await terminate(server);
    stuck.destroy();
    // The forced exit: status 1, not a kill by the watchdog.
    expect(exit).toMatchObject({ code: 1, signal: null });
    expect(exit.ms).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT * 1000 - 100);
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT * 1000 + EXIT_MARGIN_MS);
  }, 240_000);

  it.runIf(onPostgres)(
    'exits within the shutdown window when PostgreSQL becomes unreachable before SIGTERM',
    async () => {
      const { url, proxy } = await databaseUrl({ proxy: true });
      const server = await startUnreadServer({ DATABASE_URL: url });
      expect(Object.fromEntries(await load(server, 5000))).toEqual({ 200: 5000 });

      // The connection path goes silent: pooled connections are cut, new ones are never answered.
      await proxy!.cut('blackhole');
      const hanging = get(server, '/healthz').catch(() => 0);
      await new Promise((resolve) => setTimeout(resolve, 200));

      const exit = await terminate(server);
      expect(exit.signal).toBeNull();
      expect([0, 1]).toContain(exit.code);
      expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT * 1000 + EXIT_MARGIN_MS);
      await hanging;
    },
    480_000,
  );
});

describe('dropped log lines', () => {
  it('are reported in one line once the consumer reads again', async () => {
    const { url } = await databaseUrl();
    const server = await startUnreadServer({ DATABASE_URL: url });
    await load(server, 1500);

    // The consumer comes back.
    const lines: string[] = [];
    let pending = '';
    server.child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop()!;
      lines.push(...complete);
    });
    server.child.stdout!.resume();
    await expect
      .poll(() => lines.find((line) => line.includes('log lines dropped')), { timeout: 10_000 })
      .toBeDefined();
    const report = JSON.parse(lines.find((line) => line.includes('log lines dropped'))!) as Record<string, unknown>;
    expect(report).toMatchObject({ level: 40, droppedLines: expect.any(Number), droppedTotal: expect.any(Number) });
    // About 1,500 lines of ≈ 170 bytes could not fit in 64 KiB of backlog plus the pipe.
    expect(report.droppedLines as number).toBeGreaterThan(300);

    // Logging carries on normally afterwards.
    const before = lines.length;
    expect(await get(server, '/healthz')).toBe(200);
    await expect
      .poll(() => lines.slice(before).some((line) => line.includes('"msg":"request"')), { timeout: 5000 })
      .toBe(true);

    const exit = await terminate(server);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  }, 240_000);
});
