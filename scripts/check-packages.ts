/**
 * `npm run check:packages` (run by .ci/run): the three packages as a user gets them. Builds and packs
 * `passkey-auth-server`, `passkey-auth-client` and `passkey-auth-verify` (`npm pack`), installs the
 * tarballs into empty projects in a temporary folder (their dependencies from the registry, or npm's
 * cache), and then:
 * - the verify tarball alone brings at most 3 packages;
 * - a file using every export of the three compiles with `tsc` and `skipLibCheck: false`;
 * - that file, compiled, runs for real: `createAuth` serves a host app, a passkey sign-up through
 *   `/auth/...` with the test kit, a token minted by the running server verified through its JWKS
 *   URL and introspected, the client's modules loaded; then the process exits by itself;
 * - the `passkey-auth-server` command serves the demo with only `PORT` set, migrates and runs the
 *   admin CLI; no tsx or esbuild is installed.
 * Prints what it checks; exits 1 at the first failure.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../test/helpers/free-port.js';
import { buildPackage } from './build-package.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rootPackage = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};
const npmFlags = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Every installed package folder under node_modules (scoped ones included, `.bin` and `.package-lock.json` not). */
async function installedPackages(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (modules: string): Promise<void> => {
    if (!existsSync(modules)) return;
    for (const entry of await readdir(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const scoped of await readdir(path.join(modules, entry))) {
          found.push(`${entry}/${scoped}`);
          await walk(path.join(modules, entry, scoped, 'node_modules'));
        }
      } else {
        found.push(entry);
        await walk(path.join(modules, entry, 'node_modules'));
      }
    }
  };
  await walk(path.join(dir, 'node_modules'));
  return found;
}

async function emptyProject(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: path.basename(dir), private: true, type: 'module' }, null, 2),
  );
}

const consumerSource = (
  tarballs: Record<string, string>,
) => `// Uses every export of the three packages (${Object.keys(tarballs).join(', ')}).
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import {
  AuthStartError, ConfigError, MigrationError, createAuth, loadConfig,
  type Auth, type AuthConfig, type AuthVariables, type Clock, type Config, type CreateAuthOptions,
  type RequireSessionOptions, type Session, type SessionRiskAction, type SignInRiskAction, type StartOptions, type User,
} from 'passkey-auth-server';
import {
  addVirtualAuthenticator, createSoftwareAuthenticator, toVirtualCredential,
  type SoftwareAuthenticator, type VirtualAuthenticator, type VirtualCredential,
} from 'passkey-auth-server/testing';
import * as serverVerify from 'passkey-auth-server/verify';
import type { AuthClient as BundledAuthClient } from 'passkey-auth-server/client';
import * as client from 'passkey-auth-client';
import type { AuthClient, Passkey, SessionInfo } from 'passkey-auth-client';
import * as browserClient from 'passkey-auth-client/browser';
import {
  AccessTokenError, IntrospectionError, accessTokenAlgorithms, createAccessTokenVerifier, introspect, verifyAccessToken,
  type AccessTokenClaims, type IntrospectOptions, type IntrospectionResult, type JwksSource, type VerifyAccessTokenOptions,
} from 'passkey-auth-verify';

type Unused = [Auth, AuthConfig, Clock, Config, CreateAuthOptions, RequireSessionOptions, Session, SessionRiskAction, SignInRiskAction,
  StartOptions, User, SoftwareAuthenticator, VirtualAuthenticator, VirtualCredential, BundledAuthClient, AuthClient, Passkey, SessionInfo,
  AccessTokenClaims, IntrospectOptions, JwksSource, VerifyAccessTokenOptions];
export type { Unused };

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error('consumer check failed: ' + message);
  console.log('ok - ' + message);
}

const port = Number(process.env.PORT);
const origin = 'http://localhost:' + port;
const secret = 'an-introspection-secret-of-at-least-32-characters';

assert(loadConfig({ PORT: String(port) }).origins[0] === origin, 'loadConfig: the origin follows PORT');
assert(new ConfigError('x') instanceof Error && new AuthStartError('x') instanceof Error && new MigrationError('m', new Error('x')).migration === 'm', 'the error classes');
assert(typeof addVirtualAuthenticator === 'function' && typeof toVirtualCredential === 'function', 'the browser test kit');

const auth = await createAuth({ config: { port, dataDir: process.env.DATA_DIR, logLevel: 'silent', tokens: { introspectionSecret: secret } } });
await auth.start();
const app = new Hono<{ Variables: Partial<AuthVariables> }>();
app.get('/', (c) => c.text('host home'));
app.get('/api/me', auth.requireSession(), (c) => c.json({ user: c.var.user }));
app.route('/', auth.routes);
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
await new Promise((resolve) => server.once('listening', resolve));

const post = (path: string, body: unknown, cookie?: string) =>
  fetch(origin + path, { method: 'POST', headers: { Origin: origin, 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) }, body: JSON.stringify(body) });
assert((await (await fetch(origin + '/')).text()) === 'host home', 'the host keeps its own /');
const anonymous = await fetch(origin + '/api/me');
assert(anonymous.status === 401 && ((await anonymous.json()) as { error: { code: string } }).error.code === 'unauthenticated', 'requireSession answers 401 JSON');

const authenticator = createSoftwareAuthenticator({ origin });
const options = await post('/auth/register/options', { username: 'consumer' });
const registered = await post('/auth/register/verify', authenticator.createCredential(await options.json()));
assert(registered.status === 201, 'a passkey sign-up through /auth/... with the software authenticator');
const cookie = (registered.headers.getSetCookie()[0] ?? '').split(';')[0] as string;
const me = (await (await fetch(origin + '/api/me', { headers: { Cookie: cookie } })).json()) as { user: { username: string } };
assert(me.user.username === 'consumer', 'requireSession puts the user in c.var');

const { access_token: token } = (await (await post('/auth/token', {}, cookie)).json()) as { access_token: string };
const jwks = origin + '/.well-known/jwks.json';
const expected = { jwks, issuer: origin, audience: origin };
const claims = await createAccessTokenVerifier(expected)(token);
assert(claims.sub === ((await (await fetch(origin + '/auth/session', { headers: { Cookie: cookie } })).json()) as { user: { id: string } }).user.id, 'passkey-auth-verify verifies a token minted by the running server through its JWKS URL');
assert((await verifyAccessToken(token, expected)).jti === claims.jti, 'verifyAccessToken');
assert((await serverVerify.verifyAccessToken(token, expected)).sid === claims.sid, 'passkey-auth-server/verify re-exports it');
assert(accessTokenAlgorithms.includes('ES256'), 'accessTokenAlgorithms');
const { createRequire } = await import('node:module');
const openApi = createRequire(import.meta.url)('passkey-auth-server/openapi.json') as { openapi: string; paths: Record<string, unknown> };
assert(openApi.openapi === '3.1.0' && '/auth/login/verify' in openApi.paths, 'passkey-auth-server/openapi.json ships the OpenAPI document');
const refused = await verifyAccessToken(token + 'x', expected).catch((error: unknown) => error);
assert(refused instanceof AccessTokenError && refused.code === 'invalid_token', 'a tampered token is refused');
const active: IntrospectionResult = await introspect(token, { endpoint: origin + '/auth/introspect', secret });
assert(active.active && active.username === 'consumer', 'introspect() asks the running server (RFC 7662)');
const wrongSecret = await introspect(token, { endpoint: origin + '/auth/introspect', secret: 'x'.repeat(40) }).catch((error: unknown) => error);
assert(wrongSecret instanceof IntrospectionError && wrongSecret.code === 'unauthorized', 'introspect() with a wrong secret');

const withOrigin: client.FetchLike = (input, init) => fetch(input, { ...init, headers: { ...(init.headers as Record<string, string>), Origin: origin, Cookie: cookie } });
const session = await client.createAuthClient({ baseUrl: origin, fetch: withOrigin }).getSession();
assert(session?.user.username === 'consumer', 'passkey-auth-client loads and talks to the server');
assert(typeof client.describeError(new client.AuthClientError('cancelled', 'x'), { action: 'sign-in' }) === 'string', 'describeError');
assert(typeof browserClient.createAuthClient === 'function' && typeof client.createAccountClient === 'function' && typeof client.createTokenClient === 'function', 'passkey-auth-client/browser loads');

server.close();
await auth.stop();
console.log('stopped; nothing should keep the process alive now');
`;

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'passkey-auth-packages-'));
  try {
    console.log(`# build and pack (in ${work})`);
    await buildPackage();
    const packed = JSON.parse(await npm(root, ['pack', '--ignore-scripts', '--json', '--pack-destination', work])) as {
      filename: string;
      files: { path: string }[];
    }[];
    const packedWorkspaces = JSON.parse(
      await npm(root, [
        'pack',
        '-w',
        'passkey-auth-client',
        '-w',
        'passkey-auth-verify',
        '--ignore-scripts',
        '--json',
        '--pack-destination',
        work,
      ]),
    ) as { name: string; filename: string; files: { path: string }[] }[];
    const tarballs: Record<string, string> = { 'passkey-auth-server': path.join(work, packed[0]!.filename) };
    for (const entry of packedWorkspaces) tarballs[entry.name] = path.join(work, entry.filename);
    check(
      Object.keys(tarballs).length === 3 && Object.values(tarballs).every((file) => existsSync(file)),
      'three tarballs',
    );
    const serverFiles = packed[0]!.files.map((file) => file.path);
    for (const file of [
      'dist/index.js',
      'dist/bin.js',
      'dist/types/index.d.ts',
      'dist/testing.js',
      'dist/verify.js',
      'client/dist/auth-client.js',
      'client/dist/index.html',
      'migrations/2026-11-29T00-00_initial.sql',
      'LICENSE',
    ]) {
      check(serverFiles.includes(file), `passkey-auth-server ships ${file}`);
    }
    check(
      !serverFiles.some((file) => file.startsWith('server/') || file.startsWith('test/')),
      'passkey-auth-server ships no TypeScript sources or tests',
    );

    console.log('# passkey-auth-verify alone');
    const verifyOnly = path.join(work, 'verify-only');
    await emptyProject(verifyOnly);
    await npm(verifyOnly, ['install', ...npmFlags, tarballs['passkey-auth-verify']!]);
    const verifyTree = await installedPackages(verifyOnly);
    check(
      verifyTree.length <= 3,
      `installing only passkey-auth-verify brings ${verifyTree.length} packages (${verifyTree.join(', ')}), at most 3`,
    );

    console.log('# all three in an empty project');
    const consumer = path.join(work, 'consumer');
    await emptyProject(consumer);
    const extras = ['hono', '@hono/node-server'].map((name) => `${name}@${rootPackage.dependencies[name]}`);
    extras.push(
      `@types/node@${rootPackage.devDependencies['@types/node']}`,
      `playwright-core@${rootPackage.devDependencies['playwright-core']}`,
    );
    await npm(consumer, ['install', ...npmFlags, ...Object.values(tarballs), ...extras]);
    check(
      !existsSync(path.join(consumer, 'node_modules/tsx')) && !existsSync(path.join(consumer, 'node_modules/esbuild')),
      'no tsx or esbuild installed',
    );
    await writeFile(path.join(consumer, 'consumer.ts'), consumerSource(tarballs));
    await writeFile(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          types: ['node'],
          outDir: 'out',
          verbatimModuleSyntax: true,
        },
        files: ['consumer.ts'],
      }),
    );
    const compiled = await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', consumer], { cwd: consumer }).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    const diagnostics = `${compiled.stdout}${compiled.stderr}`.trim();
    if (diagnostics !== '') console.error(diagnostics);
    check(diagnostics === '', 'a file using every export compiles with tsc, skipLibCheck false');

    const port = await freePort();
    const dataDir = path.join(work, 'consumer-data');
    const ran = await runUntilExit(
      process.execPath,
      ['out/consumer.js'],
      consumer,
      { PORT: String(port), DATA_DIR: dataDir },
      120_000,
    );
    process.stdout.write(ran.output.replace(/^/gm, '  '));
    check(
      ran.code === 0,
      'the compiled file runs every export for real, and the process exits by itself after auth.stop()',
    );

    console.log('# the passkey-auth-server command');
    const bin = path.join(consumer, 'node_modules/.bin/passkey-auth-server');
    const binData = path.join(work, 'bin-data');
    const migrated = await runUntilExit(bin, ['migrate'], consumer, { DATA_DIR: binData }, 120_000);
    check(
      migrated.code === 0 && migrated.output.includes('applied: 2026-11-29T00-00_initial'),
      'passkey-auth-server migrate',
    );
    const admin = await runUntilExit(bin, ['admin', 'help'], consumer, { DATA_DIR: binData }, 60_000);
    check(admin.code === 0 && admin.output.includes('Commands:'), 'passkey-auth-server admin help');
    await checkDemo(bin, consumer, binData);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The demo server with only PORT (and a data folder) set: the page, a ceremony from its origin, then SIGTERM. */
async function checkDemo(bin: string, cwd: string, dataDir: string): Promise<void> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), DATA_DIR: dataDir };
  for (const name of ['ORIGIN', 'RP_ID', 'DATABASE_URL', 'HOST']) delete env[name];
  const child = spawn(bin, [], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const started = Date.now();
    while (!output.includes('listening on')) {
      if (child.exitCode !== null || Date.now() - started > 120_000)
        throw new Error(`the server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const page = await fetch(`${origin}/`);
    check(
      page.status === 200 && (await page.text()).includes('<script'),
      `the demo page at ${origin} with only PORT set`,
    );
    const ceremony = await fetch(`${origin}/auth/login/options`, {
      method: 'POST',
      headers: { Origin: origin, 'Content-Type': 'application/json' },
      body: '{}',
    });
    check(ceremony.status === 200, 'a ceremony from that origin is accepted (the origin follows PORT)');
    check((await fetch(`${origin}/healthz`)).status === 200, '/healthz');
  } finally {
    child.kill('SIGTERM');
  }
  check((await exited) === 0, 'the demo server stops on SIGTERM');
}

function runUntilExit(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeout: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, DATABASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit within ${timeout} ms:\n${output}`));
    }, timeout);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

try {
  await main();
  console.log('# all package checks passed');
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
