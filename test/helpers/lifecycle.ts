import { expect } from 'vitest';
import { origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';

/** Well-known AAGUIDs of the community list. */
export const aaguids = {
  googlePasswordManager: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4',
  iCloudKeychain: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd',
  yubiKey5: 'cb69481e-8ff7-4039-93ec-0a2729a154a8',
};

export function authenticatorWith(aaguid?: string): SoftwareAuthenticator {
  return createSoftwareAuthenticator({ origin, ...(aaguid ? { aaguid } : {}) });
}

/** The session id (public half of the token) in a `name=id.secret` cookie. */
export function sessionIdOf(cookie: string): string {
  return cookie.split('=')[1]!.split('.')[0]!;
}

export async function expectError(response: Response | Promise<Response>, status: number, code: string): Promise<void> {
  const r = await response;
  const text = await r.text();
  expect({ status: r.status, body: text }).toMatchObject({ status });
  expect(JSON.parse(text).error.code).toBe(code);
}

/** Step-up with the authenticator's passkey; returns the response. */
export async function stepUp(
  t: TestApp,
  cookie: string,
  authenticator: SoftwareAuthenticator,
  overrides = {},
): Promise<Response> {
  const options = await t.post('/auth/reauth/options', {}, cookie);
  expect(options.status).toBe(200);
  return t.post('/auth/reauth/verify', authenticator.getAssertion(await options.json(), overrides), cookie);
}

/** Adds a passkey made by `authenticator` to the signed-in user; returns the response. */
export async function addPasskey(t: TestApp, cookie: string, authenticator: SoftwareAuthenticator): Promise<Response> {
  const options = await t.post('/auth/passkeys/options', {}, cookie);
  if (options.status !== 200) return options;
  return t.post('/auth/passkeys/verify', authenticator.createCredential(await options.json()), cookie);
}

/** Signs in with the authenticator's newest passkey; returns the new cookie. */
export async function signInCookie(
  t: TestApp,
  authenticator: SoftwareAuthenticator,
  credentialId?: string,
): Promise<string> {
  const response = await t.signIn(authenticator, credentialId ? { credentialId } : undefined);
  expect(response.status).toBe(200);
  const cookie = sessionCookieOf(response);
  if (!cookie) throw new Error('no cookie');
  return cookie;
}

export async function auditTypes(t: TestApp, userId: string): Promise<string[]> {
  const rows = await t.database.db
    .selectFrom('audit_event')
    .select('type')
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => r.type);
}

export async function auditRows(t: TestApp, userId: string, type: string) {
  return t.database.db
    .selectFrom('audit_event')
    .selectAll()
    .where('user_id', '=', userId)
    .where('type', '=', type)
    .execute();
}

/** Everything a test compares to prove a request changed nothing. */
export async function snapshot(t: TestApp) {
  const db = t.database.db;
  return {
    sessions: await db
      .selectFrom('session')
      .select(['id', 'revoked_at', 'verified_at', 'kind'])
      .orderBy('id')
      .execute(),
    passkeys: await db
      .selectFrom('passkey')
      .select(['credential_id', 'name', 'counter', 'last_used_at'])
      .orderBy('credential_id')
      .execute(),
    codes: await db.selectFrom('recovery_code').select(['user_id', 'code_hash']).orderBy('code_hash').execute(),
    audit: (
      await db
        .selectFrom('audit_event')
        .select(({ fn }) => fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  };
}
