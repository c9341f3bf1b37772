import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { type JWTHeaderParameters, type JWTPayload, SignJWT } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.js';
import { sessionCookieOf, type TestApp } from '../helpers/app.js';

/** Serves a Hono app on a real local port (port 0: the system picks one). */
export async function serveOnLocalPort(app: Pick<Hono, 'fetch'>): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `POST /auth/token` with a session cookie; the parsed body, the response and the successor cookie of a rotation, if any. */
export async function mintToken(
  t: TestApp,
  cookie: string,
): Promise<{
  response: Response;
  body: { access_token: string; token_type: string; expires_in: number };
  rotatedCookie: string | null;
}> {
  const response = await t.post('/auth/token', undefined, cookie);
  const body = response.status === 200 ? await response.json() : await response.json().catch(() => null);
  // An idle-timeout refresh sends the same token again; only a different one is a rotation.
  const sent = sessionCookieOf(response);
  return { response, body, rotatedCookie: sent !== null && sent !== cookie ? sent : null };
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString('utf8'));
}

/** The real (unsealed) private key of `kid` from the database, to forge tokens the way only a key holder could. */
export async function realPrivateKey(db: Kysely<Database>, kid: string): Promise<KeyObject> {
  const row = await db.selectFrom('signing_key').selectAll().where('kid', '=', kid).executeTakeFirstOrThrow();
  return createPrivateKey({ key: Buffer.from(row.private_key), format: 'der', type: 'pkcs8' });
}

/** Signs with any key and any header, including ones jose's SignJWT would normally fill in. */
export async function signWith(key: KeyObject, header: JWTHeaderParameters, payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

/** An ES256 JWS assembled by hand, for headers SignJWT refuses to produce (an unknown `crit`). */
export function signRawEs256(
  key: KeyObject,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** An attacker's own ES256 key pair. */
export function attackerKey(): { privateKey: KeyObject; publicJwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown> };
}

/** A JWS assembled by hand: `alg: none`, or HMAC with a chosen secret (the public key confusion). */
export function handmadeToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  hmacSecret?: string | Uint8Array,
): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  if (hmacSecret === undefined) return `${input}.`;
  return `${input}.${createHmac('sha256', hmacSecret).update(input).digest('base64url')}`;
}

export function secretOf(cookie: string): string {
  return cookie.split('=')[1]!.split('.')[1]!;
}

export function sessionIdOf(cookie: string): string {
  return cookie.split('=')[1]!.split('.')[0]!;
}
