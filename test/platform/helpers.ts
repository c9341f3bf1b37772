import { expect } from 'vitest';
import { sessionCookieOf, type TestApp } from '../helpers/app.js';
import type { SoftwareAuthenticator } from '../helpers/authenticator.js';

/** The request headers of a client on another origin: a browser page there, or a native app. */
export type ClientHeaders = Record<string, string>;

function send(t: TestApp, path: string, body: unknown, headers: ClientHeaders, cookie?: string | null) {
  return t.request('POST', path, { body, headers, cookie: cookie ?? null });
}

/** Sign-up with `authenticator` (whose clientDataJSON origin is its own), sending `headers`. */
export async function signUpFrom(
  t: TestApp,
  authenticator: SoftwareAuthenticator,
  username: string,
  headers: ClientHeaders,
): Promise<Response> {
  const options = await send(t, '/auth/register/options', { username }, headers);
  expect(options.status).toBe(200);
  return send(t, '/auth/register/verify', authenticator.createCredential(await options.json()), headers);
}

/** Usernameless sign-in with `authenticator`, sending `headers`. */
export async function signInFrom(
  t: TestApp,
  authenticator: SoftwareAuthenticator,
  headers: ClientHeaders,
): Promise<Response> {
  const options = await send(t, '/auth/login/options', {}, headers);
  expect(options.status).toBe(200);
  return send(t, '/auth/login/verify', authenticator.getAssertion(await options.json()), headers);
}

/** Step-up of a signed-in session with `authenticator`. */
export async function stepUpFrom(
  t: TestApp,
  authenticator: SoftwareAuthenticator,
  cookie: string,
  headers: ClientHeaders,
): Promise<Response> {
  const options = await send(t, '/auth/reauth/options', {}, headers, cookie);
  expect(options.status).toBe(200);
  return send(t, '/auth/reauth/verify', authenticator.getAssertion(await options.json()), headers, cookie);
}

/** Adds a passkey made by `authenticator` to the signed-in user. */
export async function addPasskeyFrom(
  t: TestApp,
  authenticator: SoftwareAuthenticator,
  cookie: string,
  headers: ClientHeaders,
): Promise<Response> {
  const options = await send(t, '/auth/passkeys/options', {}, headers, cookie);
  expect(options.status).toBe(200);
  return send(t, '/auth/passkeys/verify', authenticator.createCredential(await options.json()), headers, cookie);
}

export function cookieOf(response: Response): string {
  const cookie = sessionCookieOf(response);
  if (cookie === null) throw new Error(`no session cookie (status ${response.status})`);
  return cookie;
}

export async function errorOf(response: Response): Promise<{ status: number; code: string }> {
  return { status: response.status, code: (await response.json()).error.code };
}
