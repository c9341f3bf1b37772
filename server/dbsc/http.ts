import type { Context } from 'hono';
import { setCookie } from 'hono/cookie';
import type { Deps } from '../deps.js';
import { type BoundCookie, offerRegistration } from './service.js';

/**
 * The Hono side of DBSC: the offer on a sign-in response (nothing with `DBSC` off) and the bound
 * cookie. The gate's check of that cookie is the session's own (server/sessions/device-binding.ts).
 */

/** Adds `Secure-Session-Registration` to a response that has just created `sessionId`. */
export async function offerDeviceBinding(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  c: Context,
  sessionId: string,
): Promise<void> {
  if (!deps.config.dbsc.enabled) return;
  c.header('Secure-Session-Registration', await offerRegistration(deps, sessionId, deps.clock.now()));
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
