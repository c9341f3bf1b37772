import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { bytesEqual, sha256 } from '../crypto.js';
import type { Deps } from '../deps.js';
import { findDeviceBinding } from './device-binding-repository.js';

/**
 * The gate's DBSC question for one request (server/dbsc/, docs/dbsc.md): `unbound` (today's
 * behaviour: the session cookie suffices), `bound` (the request carries the session's current,
 * unexpired short-lived bound cookie), or `refused`.
 */
async function checkBoundCookie(
  deps: Pick<Deps, 'db'>,
  sessionId: string,
  cookieValue: string | null,
  now: Date,
): Promise<'unbound' | 'bound' | 'refused'> {
  const binding = await findDeviceBinding(deps.db, sessionId);
  if (binding === null || binding.publicKey === null) return 'unbound';
  if (cookieValue === null || binding.cookieHash === null || binding.cookieExpiresAt === null) return 'refused';
  // Both checks always run; the hash comparison is constant-time.
  const matches = bytesEqual(sha256(cookieValue), binding.cookieHash);
  return matches && binding.cookieExpiresAt.getTime() > now.getTime() ? 'bound' : 'refused';
}

/**
 * Whether the request may use session `sessionId`: always when DBSC is off or the session is not
 * bound (browsers without DBSC keep today's behaviour); for a bound session only with its current,
 * unexpired short-lived cookie. The long-lived session cookie alone, replayed elsewhere, is refused.
 */
export async function passesDeviceBinding(
  deps: Pick<Deps, 'db' | 'config'>,
  c: Context,
  sessionId: string,
  now: Date,
): Promise<boolean> {
  if (!deps.config.dbsc.enabled) return true;
  const value = getCookie(c, deps.config.dbsc.cookieName) ?? null;
  return (await checkBoundCookie(deps, sessionId, value, now)) !== 'refused';
}
