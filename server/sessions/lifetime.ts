import type { Config } from '../config.js';

export type SessionConfig = Config['session'];

/**
 * The moment a session is judged live at: `now`, and the idle cut-off (a session last seen at or
 * before it has idled out). Computed once, here, from the configured idle timeout.
 */
export interface LiveAt {
  now: Date;
  idleCutoff: Date;
}

/** The one idle cut-off: a session is live at `now` if it was seen after `now - idleTimeout`. */
export function liveAt(config: Pick<SessionConfig, 'idleTimeout'>, now: Date): LiveAt {
  return { now, idleCutoff: new Date(now.getTime() - config.idleTimeout * 1000) };
}

/** When a session ends: the earlier of its absolute expiry and its idle expiry (last seen + idle timeout). */
export function sessionEnd(config: Pick<SessionConfig, 'idleTimeout'>, expiresAt: Date, lastSeenAt: Date): Date {
  const idleExpiry = new Date(lastSeenAt.getTime() + config.idleTimeout * 1000);
  return expiresAt.getTime() <= idleExpiry.getTime() ? expiresAt : idleExpiry;
}
