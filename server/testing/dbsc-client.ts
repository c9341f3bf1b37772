/**
 * A software Device Bound Session Credentials client (the browser half of W3C webappsec-dbsc) for
 * tests in Node: it keeps a cookie jar, answers `Secure-Session-Registration` by generating an ES256
 * key and posting the registration JWT, and before a request in a bound session's scope whose bound
 * cookie is missing or expired, refreshes it (challenge, then signed response) the way Chromium does.
 * Part of the public test kit: `import { createDbscClient } from 'passkey-auth-server/testing'`.
 *
 * @example
 * ```ts
 * const client = createDbscClient({ fetch: (path, init) => app.request(path, init), now: () => clock.now() });
 * await client.send('/auth/login/verify', { method: 'POST', ... }); // registers when offered
 * await client.send('/auth/session'); // refreshes first when the bound cookie has expired
 * ```
 *
 * @module
 */
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** What the client sends requests with: `app.request` of Hono, or `fetch` against a base URL. */
export type DbscFetch = (path: string, init: RequestInit) => Response | Promise<Response>;

/** An ES256 key pair of a device. */
export interface DbscKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A registered session, as the client keeps it (spec "session instructions"). */
export interface DbscSession {
  id: string;
  refreshUrl: string;
  cookieNames: string[];
  key: DbscKey;
}

export interface DbscClientOptions {
  fetch: DbscFetch;
  /** The client's clock, for cookie expiry (default: the real time). Pass the test clock. */
  now?: () => Date;
  /** Headers sent with every request (e.g. `Origin`). */
  headers?: Record<string, string>;
}

export interface DbscClient {
  /** Cookies by name, with their expiry (null: a session cookie). */
  readonly jar: Map<string, { value: string; expiresAt: Date | null }>;
  /** Registered sessions by identifier. */
  readonly sessions: Map<string, DbscSession>;
  /**
   * Sends a request with the jar's cookies, after refreshing every bound session whose bound cookie
   * is missing or expired; then stores the response's cookies and registers a session it offers.
   */
  send(path: string, init?: RequestInit): Promise<Response>;
  /** Runs one refresh of a session (challenge, then proof signed with `key`, default the session's). */
  refresh(sessionId: string, options?: { key?: DbscKey }): Promise<Response>;
  /** The `Cookie` header the client would send now. */
  cookieHeader(): string;
}

/** A fresh ES256 (P-256) key pair, as a device would generate. */
export async function generateDbscKey(): Promise<DbscKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

/** The DBSC proof JWT: header `typ: "dbsc+jwt"`, `alg: "ES256"`, `jwk` on registration; payload `jti` (the challenge) and `authorization`. */
export async function signDbscProof(
  key: DbscKey,
  claims: { jti: string; authorization?: string },
  options: { includeJwk: boolean },
): Promise<string> {
  const header = { alg: 'ES256', typ: 'dbsc+jwt', ...(options.includeJwk ? { jwk: key.publicJwk } : {}) };
  return new SignJWT({ ...claims }).setProtectedHeader(header).sign(key.privateKey);
}

/** Parameters of a `Secure-Session-Registration` header (the first registration in it). */
export function parseRegistrationHeader(
  value: string,
): { algorithms: string[]; path: string; challenge: string | null; authorization: string | null } | null {
  const match = /^\(([^)]*)\)((?:;[a-z_]+=(?:"(?:[^"\\]|\\.)*"|[^;,]*))*)/i.exec(value.trim());
  if (!match) return null;
  const params = parseParams(match[2] ?? '');
  const path = params.get('path');
  if (path === undefined) return null;
  return {
    algorithms: (match[1] ?? '').trim().split(/\s+/),
    path,
    challenge: params.get('challenge') ?? null,
    authorization: params.get('authorization') ?? null,
  };
}

/** `Secure-Session-Challenge`: the challenge string and the session `id` parameter. */
export function parseChallengeHeader(value: string): { challenge: string; sessionId: string | null } | null {
  const match = /^"((?:[^"\\]|\\.)*)"(.*)$/.exec(value.trim());
  if (!match) return null;
  return { challenge: unescapeSfString(match[1] ?? ''), sessionId: parseParams(match[2] ?? '').get('id') ?? null };
}

function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of text.matchAll(/;\s*([a-z_]+)=("(?:[^"\\]|\\.)*"|[^;,]*)/gi)) {
    const raw = part[2] ?? '';
    params.set((part[1] ?? '').toLowerCase(), raw.startsWith('"') ? unescapeSfString(raw.slice(1, -1)) : raw);
  }
  return params;
}

function unescapeSfString(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Creates a software DBSC client; see the module documentation. */
export function createDbscClient(options: DbscClientOptions): DbscClient {
  const now = options.now ?? (() => new Date());
  const jar = new Map<string, { value: string; expiresAt: Date | null }>();
  const sessions = new Map<string, DbscSession>();

  const cookieHeader = () => {
    const at = now().getTime();
    return [...jar]
      .filter(([, c]) => c.expiresAt === null || c.expiresAt.getTime() > at)
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  };

  const store = (response: Response) => {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expiresAt: Date | null = null;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.trim().split('=');
        if (key.toLowerCase() === 'max-age') expiresAt = new Date(now().getTime() + Number(val) * 1000);
      }
      if (value === '' || (expiresAt !== null && expiresAt.getTime() <= now().getTime())) jar.delete(name);
      else jar.set(name, { value, expiresAt });
    }
  };

  const raw = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(options.headers);
    for (const [name, value] of new Headers(init.headers)) headers.set(name, value);
    const cookies = cookieHeader();
    if (cookies !== '') headers.set('Cookie', cookies);
    const response = await options.fetch(path, { ...init, headers });
    store(response);
    return response;
  };

  const applyInstructions = async (response: Response, key: DbscKey, fallbackId: string | null) => {
    const body = (await response.json()) as {
      continue?: boolean;
      session_identifier?: string;
      refresh_url?: string;
      credentials?: { type: string; name: string }[];
    };
    if (body.continue === false) {
      if (fallbackId !== null) sessions.delete(fallbackId);
      return;
    }
    if (typeof body.session_identifier !== 'string' || typeof body.refresh_url !== 'string')
      throw new Error('session instructions without session_identifier or refresh_url');
    const cookieNames = (body.credentials ?? []).filter((c) => c.type === 'cookie').map((c) => c.name);
    sessions.set(body.session_identifier, {
      id: body.session_identifier,
      refreshUrl: body.refresh_url,
      cookieNames,
      key,
    });
  };

  const register = async (offer: NonNullable<ReturnType<typeof parseRegistrationHeader>>) => {
    if (!offer.algorithms.includes('ES256') || offer.challenge === null) return;
    const key = await generateDbscKey();
    const claims =
      offer.authorization === null
        ? { jti: offer.challenge }
        : { jti: offer.challenge, authorization: offer.authorization };
    const response = await raw(offer.path, {
      method: 'POST',
      headers: { 'Secure-Session-Response': `"${await signDbscProof(key, claims, { includeJwk: true })}"` },
    });
    if (response.status === 200) await applyInstructions(response, key, null);
  };

  const refresh: DbscClient['refresh'] = async (sessionId, refreshOptions = {}) => {
    const session = sessions.get(sessionId);
    if (!session) throw new Error(`no DBSC session ${sessionId}`);
    const idHeader = { 'Sec-Secure-Session-Id': `"${sessionId}"` };
    const first = await raw(session.refreshUrl, { method: 'POST', headers: idHeader });
    if (first.status === 200) {
      await applyInstructions(first.clone(), session.key, sessionId);
      return first;
    }
    const challenge = parseChallengeHeader(first.headers.get('secure-session-challenge') ?? '');
    if (first.status !== 403 || challenge === null) return first;
    const proof = await signDbscProof(
      refreshOptions.key ?? session.key,
      { jti: challenge.challenge },
      { includeJwk: false },
    );
    const second = await raw(session.refreshUrl, {
      method: 'POST',
      headers: { ...idHeader, 'Secure-Session-Response': `"${proof}"` },
    });
    if (second.status === 200) await applyInstructions(second.clone(), session.key, sessionId);
    return second;
  };

  const send: DbscClient['send'] = async (path, init = {}) => {
    // Like Chromium: a request in a session's scope waits for a refresh when a bound cookie is missing.
    for (const session of [...sessions.values()]) {
      const present = (name: string) => {
        const cookie = jar.get(name);
        return cookie !== undefined && (cookie.expiresAt === null || cookie.expiresAt.getTime() > now().getTime());
      };
      if (path !== session.refreshUrl && !session.cookieNames.every(present)) await refresh(session.id);
    }
    const response = await raw(path, init);
    const offer = response.headers.get('secure-session-registration');
    const parsed = offer === null ? null : parseRegistrationHeader(offer);
    if (parsed !== null) await register(parsed);
    return response;
  };

  return { jar, sessions, send, refresh, cookieHeader };
}
