import net from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';

// Served by @hono/node-server, a body with a Content-Length is read straight from Node's request
// (server/http/body.ts), and a chunked one as a stream, counted as it arrives: both as the contract
// orders them (413, 415, 400), over a real socket.
let t: TestApp;
let server: ServerType;
let port: number;
beforeAll(async () => {
  t = await createTestApp();
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.close();
});

/** Sends `head` then `chunks` on a fresh connection and returns the status line and the body. */
function exchange(head: string, chunks: string[] = []): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (data) => {
      received += data.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [headers = '', ...rest] = received.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
      let body = rest.join('\r\n\r\n');
      if (/transfer-encoding: chunked/i.test(headers))
        body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
      resolve({ status, body });
    });
    socket.write(head);
    for (const chunk of chunks) socket.write(chunk);
  });
}

const request = (lines: string[]) =>
  `${['POST /auth/login/options HTTP/1.1', 'Host: localhost', `Origin: ${origin}`, 'Connection: close', ...lines].join('\r\n')}\r\n\r\n`;
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

describe('request bodies over a real socket', () => {
  it('reads a JSON body with a Content-Length', async () => {
    const response = await exchange(request(['Content-Type: application/json', 'Content-Length: 2']), ['{}']);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toHaveProperty('challenge');
  });

  it('reads a chunked JSON body', async () => {
    const response = await exchange(request(['Content-Type: application/json', 'Transfer-Encoding: chunked']), [
      chunk('{'),
      chunk('}'),
      '0\r\n\r\n',
    ]);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toHaveProperty('challenge');
  });

  it('refuses a Content-Length over 64 KiB, a chunked body that grows past it, bad JSON and another type', async () => {
    const tooLong = await exchange(request(['Content-Type: application/json', 'Content-Length: 70000']));
    expect(tooLong.status).toBe(413);
    expect(JSON.parse(tooLong.body).error.code).toBe('payload_too_large');
    const growing = await exchange(request(['Content-Type: application/json', 'Transfer-Encoding: chunked']), [
      ...Array.from({ length: 10 }, () => chunk('x'.repeat(8192))),
      '0\r\n\r\n',
    ]);
    expect(growing.status).toBe(413);
    expect(JSON.parse(growing.body).error.code).toBe('payload_too_large');
    const notJson = await exchange(request(['Content-Type: application/json', 'Content-Length: 3']), ['{x}']);
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body).error.code).toBe('invalid_request');
    const text = await exchange(request(['Content-Type: text/plain', 'Content-Length: 2']), ['{}']);
    expect(text.status).toBe(415);
    const empty = await exchange(request(['Content-Length: 0']));
    expect(empty.status).toBe(200);
  });
});
