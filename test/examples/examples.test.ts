import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftwareAuthenticator } from '../../server/testing/index.js';
import { sessionCookieOf } from '../helpers/app.js';
import { buildPackagesOnce } from '../helpers/build.js';
import { freePort } from '../helpers/free-port.js';

// The examples run as their own processes against the built packages (`import ... from
// 'passkey-auth-server'`, 'passkey-auth-verify', 'passkey-auth-client'), as a user would run them.
const root = fileURLToPath(new URL('../../', import.meta.url));

interface Running {
  origin: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

const running: Running[] = [];
const folders: string[] = [];

async function start(file: string, env: Record<string, string>, ready: string): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${output.join('')}`)), 90_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join('').includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}:\n${output.join('')}`));
    });
  });
  const process_ = { origin: `http://localhost:${port}`, child, output, exited };
  running.push(process_);
  return process_;
}

let host: Running;

beforeAll(async () => {
  await buildPackagesOnce();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-example-'));
  folders.push(dataDir);
  host = await start('examples/host-app/server.ts', { DATA_DIR: dataDir, HOST: '127.0.0.1' }, 'host app on');
}, 240_000);

afterAll(async () => {
  for (const { child, exited } of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

function call(
  method: string,
  url: string,
  options: { body?: unknown; cookie?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Origin: new URL(url).origin, ...options.headers };
  if (options.cookie) headers.Cookie = options.cookie;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
}

describe('the host app embedding the auth server', () => {
  let cookie: string;
  let userId: string;
  const authenticator = () => createSoftwareAuthenticator({ origin: host.origin });
  let passkey: ReturnType<typeof authenticator>;

  it('keeps its own paths next to the mounted auth routes', async () => {
    const page = await fetch(`${host.origin}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Host app</h1>');
    const script = await fetch(`${host.origin}/auth-client.js`);
    expect(script.status).toBe(200);
    expect(await script.text()).toContain('createAuthClient');
    // Not the auth server's demo, catch-all 404 or 405: the host's own answers.
    expect((await call('POST', `${host.origin}/`)).status).toBe(404);
    expect(await (await fetch(`${host.origin}/nowhere`)).text()).not.toContain('"error"');
    // Within the auth server's own paths, the contract still holds.
    const wrongMethod = await call('PUT', `${host.origin}/auth/session`);
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
    expect((await fetch(`${host.origin}/.well-known/jwks.json`)).status).toBe(200);
  });

  it('answers 401 JSON on its protected routes without a session', async () => {
    const me = await fetch(`${host.origin}/api/me`);
    expect(me.status).toBe(401);
    expect(me.headers.get('content-type')).toContain('application/json');
    expect(await me.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    const item = await call('POST', `${host.origin}/api/items`, { body: { name: 'x' } });
    expect(item.status).toBe(401);
  });

  it('knows the user after a passkey sign-up and a sign-in through /auth/...', async () => {
    passkey = authenticator();
    const username = `ann_${randomBytes(4).toString('hex')}`;
    const options = await call('POST', `${host.origin}/auth/register/options`, { body: { username } });
    expect(options.status).toBe(200);
    const registered = await call('POST', `${host.origin}/auth/register/verify`, {
      body: passkey.createCredential(await options.json()),
    });
    expect(registered.status).toBe(201);
    userId = ((await registered.json()) as { user: { id: string } }).user.id;

    const loginOptions = await call('POST', `${host.origin}/auth/login/options`, { body: {} });
    const signedIn = await call('POST', `${host.origin}/auth/login/verify`, {
      body: passkey.getAssertion(await loginOptions.json()),
    });
    expect(signedIn.status).toBe(200);
    cookie = sessionCookieOf(signedIn) as string;
    expect(cookie).toBeTruthy();

    const me = await call('GET', `${host.origin}/api/me`, { cookie });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { id: userId, username } });
    const item = await call('POST', `${host.origin}/api/items`, { cookie, body: { name: 'first' } });
    expect(item.status).toBe(201);
    expect(await item.json()).toEqual({ item: { name: 'first', owner: userId } });
  });

  it('lets the resource service accept its access tokens through passkey-auth-verify and the JWKS URL', async () => {
    const service = await start(
      'examples/resource-service/server.ts',
      { AUTH_URL: host.origin },
      'resource service on',
    );
    const minted = await call('POST', `${host.origin}/auth/token`, { cookie, body: {} });
    expect(minted.status).toBe(200);
    const { access_token: token } = (await minted.json()) as { access_token: string };

    const data = await fetch(`${service.origin}/api/data`, { headers: { Authorization: `Bearer ${token}` } });
    expect(data.status).toBe(200);
    expect(await data.json()).toMatchObject({ user: userId });
    expect((await fetch(`${service.origin}/api/data`)).status).toBe(401);
    const forged = await fetch(`${service.origin}/api/data`, {
      headers: { Authorization: `Bearer ${token.slice(0, -4)}AAAA` },
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('invalid_token');

    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
  });

  it('exits by itself once the server and auth.stop() are done', async () => {
    host.child.kill('SIGTERM');
    const code = await Promise.race([
      host.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000)),
    ]);
    expect(code).toBe(0);
    expect(host.output.join('')).toContain('stopped');
  }, 30_000);
});
