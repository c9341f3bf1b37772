import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../browser/harness.js';

// These start the real server (`node --import tsx server/main.ts`, as `npm start` does) on embedded
// PGlite in a temporary data folder.
const embedded = { DATABASE_URL: '', LOG_LEVEL: 'info' };
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop().catch(() => {});
});

function exitOf(server: RunningServer): Promise<number | null> {
  if (server.process.exitCode !== null) return Promise.resolve(server.process.exitCode);
  return new Promise((resolve) => server.process.once('exit', (code) => resolve(code)));
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function readResponse(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const head = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (head >= 0 && length && text.length >= head + 4 + Number(length[1])) resolve(text);
    });
  });
}

describe('SIGTERM', () => {
  it('stops accepting, finishes the request in flight, closes the database and exits 0', async () => {
    const server = await startServer(embedded);
    servers.push(server);
    const port = Number(new URL(server.origin).port);

    // A request whose body is still arriving when the signal comes.
    const slow = await connect(port);
    const answer = readResponse(slow);
    slow.write(
      `POST /auth/login/options HTTP/1.1\r\nHost: localhost:${port}\r\nOrigin: ${server.origin}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = exitOf(server);
    server.process.kill('SIGTERM');
    await expect.poll(() => server.output.join(''), { timeout: 5000 }).toContain('stopping');

    // New connections are refused from now on.
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    slow.write('}');
    const response = await answer;
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('"challenge"');

    expect(await exited).toBe(0);
    expect(server.output.join('')).toContain('"msg":"stopped"');
    slow.destroy();
  }, 90_000);
});

describe('data folder lock', () => {
  it('refuses a second server on the same DATA_DIR with a clear message, and the first keeps serving', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-lock-'));
    try {
      const first = await startServer({ ...embedded, DATA_DIR: dataDir });
      servers.push(first);
      const second = startServer({ ...embedded, DATA_DIR: dataDir });
      await expect(second).rejects.toThrow(
        /server exited with 1:[\s\S]*Data folder .* is in use by another running server \(pid \d+\)/,
      );
      const health = await fetch(`${first.origin}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
