import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { Deps } from '../deps.js';
import type { BoundCookie } from './service.js';
import { checkBoundCookie, offerRegistration } from './service.js';

/**
 * The Hono side of DBSC for the rest of the server: the offer on a sign-in response, and the gate
 * `authenticateRequest` asks. Both do nothing with `DBSC` off.
 */

/** Adds `Secure-Session-Registration` to a response that has just created `sessionId`. */
export async function offerDeviceBinding(deps: Pick<Deps, 'db' | 'config' | 'clock'>, c: Context, sessionId: string): Promise<void> {
  if (!deps.config.dbsc.enabled) return;
  c.header('Secure-Session-Registration', await offerRegistration(deps, sessionId, deps.clock.now()));
}

/**
 * Whether the request may use session `sessionId`: always when DBSC is off or the session is not
 * bound (browsers without DBSC keep today's behaviour); for a bound session only with its current,
 * unexpired short-lived cookie. The long-lived session cookie alone, replayed elsewhere, is refused.
 */
export async function passesDeviceBinding(deps: Pick<Deps, 'db' | 'config'>, c: Context, sessionId: string, now: Date): Promise<boolean> {
  if (!deps.config.dbsc.enabled) return true;
  const value = getCookie(c, deps.config.dbsc.cookieName) ?? null;
  return (await checkBoundCookie(deps.db, sessionId, value, now)) !== 'refused';
}

/** Sets the bound cookie with exactly the attributes the session config names (protocol.ts). */
export function setBoundCookie(c: Context, name: string, cookie: BoundCookie, now: Date): void {
  setCookie(c, name, cookie.value, {
    path: '/',
    secure: true,
    httpOnly: true,
    sameSite: 'Lax',
    maxAge: Math.max(0, Math.floor((cookie.expiresAt.getTime() - now.getTime()) / 1000)),
  });
}
