import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { parseToken } from './token.js';

export interface SessionCookieOptions {
  name: string;
}

/**
 * The session token from the `Cookie` header, or `null` when absent or not of the token's shape.
 * Only the cookie counts: a token in a query string or an `Authorization` header is ignored.
 * With duplicated cookie names the request is treated as carrying no valid session.
 */
export function readSessionCookie(c: Context, options: SessionCookieOptions): string | null {
  const header = c.req.header('cookie');
  if (!header) return null;
  const prefix = `${options.name}=`;
  let value: string | null = null;
  for (const part of header.split(';')) {
    const cookie = part.trim();
    if (!cookie.startsWith(prefix)) continue;
    if (value !== null) return null;
    value = cookie.slice(prefix.length);
  }
  return value !== null && parseToken(value) !== null ? value : null;
}

/** True when a cookie of this name was sent, whatever its value. */
export function hasSessionCookie(c: Context, options: SessionCookieOptions): boolean {
  const header = c.req.header('cookie');
  return header?.includes(`${options.name}=`) === true;
}

/**
 * Sets the session cookie to `session.token`: HttpOnly (no page script can read it), Secure (browsers
 * accept it on http://localhost too), SameSite=Lax, Path=/, no Domain, so the `__Host-` prefix holds,
 * and a Max-Age no later than the session's expiry (`session.expiresAt`).
 */
export function setSessionCookie(
  c: Context,
  options: SessionCookieOptions,
  session: { token: string; expiresAt: Date },
  now: Date,
): void {
  const { token, expiresAt } = session;
  setCookie(c, options.name, token, {
    httpOnly: true,
    secure: true,
    sameSite: 'Lax',
    path: '/',
    maxAge: Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)),
  });
}

/** Clears the session cookie (`Max-Age=0`) with the same attributes it was set with. */
export function clearSessionCookie(c: Context, options: SessionCookieOptions): void {
  deleteCookie(c, options.name, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
}
