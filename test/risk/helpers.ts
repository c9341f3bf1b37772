import { origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';

/** A browser on a network: the `User-Agent` it sends and the socket address it connects from. */
export interface Client {
  userAgent: string;
  address: string;
}

export const chromeOnWindows: Client = {
  userAgent:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  address: '203.0.113.10',
};
/** The same browser a version later, on the same network. */
export const chromeOnWindowsUpdated: Client = {
  ...chromeOnWindows,
  userAgent: chromeOnWindows.userAgent.replace('131.0.0.0', '132.0.0.0'),
};
/** The same browser on another network (a phone hotspot, say). */
export const chromeOnWindowsElsewhere: Client = { ...chromeOnWindows, address: '198.51.100.77' };
/** Another browser and OS on the network of {@link chromeOnWindows}. */
export const firefoxOnLinuxSameNetwork: Client = {
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  address: '203.0.113.99',
};
/** Another browser and OS on another network: a replayed cookie. */
export const attacker: Client = {
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  address: '192.0.2.66',
};

/** A request as `client` sends it through a socket (what @hono/node-server passes as the env). */
export async function from(
  t: Pick<TestApp, 'app'>,
  client: Client,
  method: string,
  path: string,
  options: { cookie?: string; body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Origin: origin, 'User-Agent': client.userAgent };
  if (options.cookie) headers.Cookie = options.cookie;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  return t.app.request(path, { method, headers, body }, { incoming: { socket: { remoteAddress: client.address } } });
}

/** Signs up from `client`; the session's trusted context is that client's. */
export async function signUpFrom(t: TestApp, client: Client, username: string) {
  const authenticator = createSoftwareAuthenticator({ origin });
  const options = await (await from(t, client, 'POST', '/auth/register/options', { body: { username } })).json();
  const verify = await from(t, client, 'POST', '/auth/register/verify', {
    body: authenticator.createCredential(options),
  });
  if (verify.status !== 201) throw new Error(`register/verify answered ${verify.status}: ${await verify.text()}`);
  const { user } = (await verify.json()) as { user: { id: string; username: string } };
  return { cookie: sessionCookieOf(verify) as string, user, authenticator };
}

/** A usernameless sign-in from `client`; returns the response. */
export async function signInFrom(
  t: TestApp,
  client: Client,
  authenticator: SoftwareAuthenticator,
  overrides?: Parameters<SoftwareAuthenticator['getAssertion']>[1],
): Promise<Response> {
  const options = await (await from(t, client, 'POST', '/auth/login/options', { body: {} })).json();
  return from(t, client, 'POST', '/auth/login/verify', { body: authenticator.getAssertion(options, overrides) });
}

/** A passkey re-verification of the session behind `cookie`, from `client`; returns the verify response. */
export async function reauthFrom(
  t: TestApp,
  client: Client,
  cookie: string,
  authenticator: SoftwareAuthenticator,
): Promise<Response> {
  const response = await from(t, client, 'POST', '/auth/reauth/options', { cookie, body: {} });
  if (response.status !== 200) return response;
  return from(t, client, 'POST', '/auth/reauth/verify', {
    cookie,
    body: authenticator.getAssertion(await response.json()),
  });
}

export async function auditCount(t: TestApp): Promise<number> {
  const row = await t.database.db
    .selectFrom('audit_event')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function eventsOf(t: TestApp, userId: string, type: string) {
  return t.database.db
    .selectFrom('audit_event')
    .selectAll()
    .where('user_id', '=', userId)
    .where('type', '=', type)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export function sessionIdOf(cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1] as string).split('.')[0] as string;
}

export async function expectError(response: Response | Promise<Response>, status: number, code: string): Promise<void> {
  const r = await response;
  const body = await r.json();
  if (r.status !== status || body?.error?.code !== code)
    throw new Error(`expected ${status} ${code}, got ${r.status} ${JSON.stringify(body)}`);
}
