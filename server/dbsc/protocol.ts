/**
 * The wire formats of Device Bound Session Credentials (W3C webappsec-dbsc, as Chromium and the
 * web-platform tests `device-bound-session-credentials/` exchange them). Pure functions, no I/O.
 */

/** Where the browser posts the registration and the refreshes (dbsc/routes.ts, mounted at `/auth/dbsc` in app.ts). */
export const registrationPath = '/auth/dbsc/register';
export const refreshPath = '/auth/dbsc/refresh';

/** The attributes of the bound cookie, given both in `Set-Cookie` and in the session config (they must agree). */
export const boundCookieAttributes = 'Path=/; Secure; HttpOnly; SameSite=Lax';

/** A structured-field string (RFC 8941 §3.3.3) with only the characters our values use. */
function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError('not an sf-string');
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * `Secure-Session-Registration`: an inner list of algorithms, then `path`, `challenge` and
 * `authorization` parameters, e.g. `(ES256);path="/auth/dbsc/register";challenge="…";authorization="…"`.
 */
export function registrationHeader(challenge: string, authorization: string): string {
  return `(ES256);path=${sfString(registrationPath)};challenge=${sfString(challenge)};authorization=${sfString(authorization)}`;
}

/** `Secure-Session-Challenge`: the challenge as an sf-string with the session identifier in `id`. */
export function challengeHeader(challenge: string, sessionId: string): string {
  return `${sfString(challenge)};id=${sfString(sessionId)}`;
}

/**
 * The value of an sf-string header (`Sec-Secure-Session-Id`, `Secure-Session-Response`), or the bare
 * token when a client sends it unquoted; `null` when absent or malformed.
 */
export function readSfString(raw: string | undefined, pattern: RegExp): string | null {
  if (raw === undefined) return null;
  const value = raw.trim();
  const unquoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  return pattern.test(unquoted) ? unquoted : null;
}

/** The session configuration a registration or a refresh answers with (spec "session instructions"). */
export interface SessionInstructions {
  session_identifier: string;
  refresh_url: string;
  scope: {
    origin: string;
    include_site: boolean;
    scope_specification: { type: 'include' | 'exclude'; domain: string; path: string }[];
  };
  credentials: { type: 'cookie'; name: string; attributes: string }[];
}

/**
 * The session covers this origin only (`include_site: false`: the cookies are host-only `__Host-`
 * ones), and its one credential is the short-lived bound cookie. `origin: ""` leaves the scope at
 * the registration's origin, as the web-platform tests do.
 */
export function sessionInstructions(sessionId: string, cookieName: string): SessionInstructions {
  return {
    session_identifier: sessionId,
    refresh_url: refreshPath,
    scope: { origin: '', include_site: false, scope_specification: [] },
    credentials: [{ type: 'cookie', name: cookieName, attributes: boundCookieAttributes }],
  };
}
