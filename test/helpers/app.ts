import type { Hono } from 'hono';
import pino from 'pino';
import { createApp } from '../../server/app.js';
import { type Config, loadConfig } from '../../server/config.js';
import type { Deps } from '../../server/deps.js';
import type { AppEnv } from '../../server/http/env.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../../server/testing/index.js';
import { TestClock } from './clock.js';
import { checkedApp } from './conformance.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const origin = 'http://localhost:3000';

export interface TestApp {
  app: Hono<AppEnv>;
  deps: Deps;
  database: TestDatabase;
  clock: TestClock;
  config: Config;
  /** A request through `app.request()` as a same-origin browser would send it. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; cookie?: string | null; headers?: Record<string, string> },
  ): Promise<Response>;
  post(path: string, body?: unknown, cookie?: string | null): Promise<Response>;
  get(path: string, cookie?: string | null): Promise<Response>;
  /** Registers a user with a fresh passkey on `authenticator`; returns the session cookie. */
  signUp(
    username: string,
    authenticator?: SoftwareAuthenticator,
  ): Promise<{ cookie: string; user: { id: string; username: string }; authenticator: SoftwareAuthenticator }>;
  /** Runs a usernameless sign-in with `authenticator`; returns the response. */
  signIn(
    authenticator: SoftwareAuthenticator,
    overrides?: Parameters<SoftwareAuthenticator['getAssertion']>[1],
  ): Promise<Response>;
  close(): Promise<void>;
}

/** The `name=value` pair of the session cookie a response sets, or null. */
export function sessionCookieOf(response: Response, name = '__Host-session'): string | null {
  for (const header of response.headers.getSetCookie()) {
    const [pair] = header.split(';');
    if (pair?.startsWith(`${name}=`) && pair.length > name.length + 1) return pair;
  }
  return null;
}

/** A test app on its own fresh database, with a clock the test moves. */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const clock = new TestClock();
  const config = loadConfig({ ORIGIN: origin, ...env });
  const deps: Deps = { db: database.db, config, clock, logger: pino({ level: 'silent' }) };
  // Every response the suite receives is checked against the OpenAPI document (conformance.ts).
  const app = checkedApp(createApp(deps), { metrics: config.metrics.token !== null, dbsc: config.dbsc.enabled });

  const request: TestApp['request'] = (method, path, options = {}) => {
    const headers: Record<string, string> = { Origin: origin, ...options.headers };
    if (options.cookie) headers.Cookie = options.cookie;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] ??= 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    return Promise.resolve(app.request(path, { method, headers, body }));
  };
  const post: TestApp['post'] = (path, body, cookie) => request('POST', path, { body, cookie });
  const get: TestApp['get'] = (path, cookie) => request('GET', path, { cookie });

  const signUp: TestApp['signUp'] = async (username, authenticator = createSoftwareAuthenticator({ origin })) => {
    const options = await post('/auth/register/options', { username });
    if (options.status !== 200) throw new Error(`register/options answered ${options.status}: ${await options.text()}`);
    const verify = await post('/auth/register/verify', authenticator.createCredential(await options.json()));
    if (verify.status !== 201) throw new Error(`register/verify answered ${verify.status}: ${await verify.text()}`);
    const cookie = sessionCookieOf(verify);
    if (!cookie) throw new Error('no session cookie');
    const { user } = (await verify.json()) as { user: { id: string; username: string } };
    return { cookie, user, authenticator };
  };

  const signIn: TestApp['signIn'] = async (authenticator, overrides) => {
    const options = await post('/auth/login/options', {});
    return post('/auth/login/verify', authenticator.getAssertion(await options.json(), overrides));
  };

  return { app, deps, database, clock, config, request, post, get, signUp, signIn, close: () => database.destroy() };
}
