import { isIPv4, isIPv6 } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { sql, type Kysely } from 'kysely';
import { sha256 } from '../crypto.js';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { clientAddress } from './client-address.js';
import { expandIPv6 } from './ip-address.js';

export interface RateLimitOptions {
  /** The counter's name, e.g. `login:address` or `recovery:identifier` (at most 64 characters). */
  bucket: string;
  /** What is limited: a client address (see {@link addressKey}), a username, a credential ID. Stored only as SHA-256. */
  key: string;
  /** Requests admitted per window; 0 or less turns this limit off. */
  limit: number;
  windowSeconds: number;
}

/**
 * Counts one request against a limit and throws `rate_limited` (429, with `retryAfter` in seconds)
 * once the window's count is over it. One atomic upsert per check, in the database, so every server
 * instance on that database shares the counters and concurrent requests cannot slip past the limit.
 * Time comes from the injected clock.
 *
 * @example
 * await enforceRateLimit(deps, { bucket: 'recovery:identifier', key: username, limit: 5, windowSeconds: 900 });
 */
export async function enforceRateLimit(deps: Pick<Deps, 'db' | 'clock' | 'metrics'>, options: RateLimitOptions): Promise<void> {
  const { bucket, key, limit, windowSeconds } = options;
  if (limit <= 0) return;
  const now = deps.clock.now();
  const { hits, expiresAt } = await hitCounter(deps.db, { bucket, key: sha256(`${bucket}\u0000${key}`), windowSeconds }, now);
  if (hits > limit) {
    const retryAfter = Math.max(1, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
    deps.metrics?.rateLimited(bucket);
    throw new AuthError('rate_limited', undefined, { retryAfter });
  }
}

/**
 * The counter upsert: a new window starts at 1 when the row is absent or its window has passed,
 * otherwise the count goes up by one. Returns the count and the end of the current window.
 */
export async function hitCounter(
  db: Kysely<Database>,
  counter: { bucket: string; key: Uint8Array; windowSeconds: number },
  now: Date,
): Promise<{ hits: number; expiresAt: Date }> {
  const expiresAt = new Date(now.getTime() + counter.windowSeconds * 1000);
  const passed = sql<boolean>`rate_limit.expires_at <= ${now}`;
  const row = await db
    .insertInto('rate_limit')
    .values({ bucket: counter.bucket, key: counter.key, hits: 1, window_start: now, expires_at: expiresAt })
    .onConflict((oc) =>
      oc.columns(['bucket', 'key']).doUpdateSet({
        hits: sql<number>`case when ${passed} then 1 else least(rate_limit.hits + 1, 2000000000) end`,
        window_start: sql<Date>`case when ${passed} then excluded.window_start else rate_limit.window_start end`,
        expires_at: sql<Date>`case when ${passed} then excluded.expires_at else rate_limit.expires_at end`,
      }),
    )
    .returning(['hits', 'expires_at'])
    .executeTakeFirstOrThrow();
  return { hits: Number(row.hits), expiresAt: new Date(row.expires_at) };
}

/**
 * The key of a client address: an IPv4 address as is (also when IPv4-mapped, `::ffff:a.b.c.d`), an
 * IPv6 address by its /64 prefix, since one subscriber usually holds a whole /64 and could otherwise
 * rotate through 2^64 addresses.
 */
export function addressKey(address: string): string {
  const bare = address.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped && isIPv4(mapped[1] as string)) return mapped[1] as string;
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return `other:${bare.toLowerCase()}`;
  const groups = expandIPv6(bare);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

export interface RateLimitRoute {
  /** The ceremony family whose counters this route shares: `register`, `login`, `reauth`, `recovery`… */
  family: string;
  /** The username or credential ID the request names, read from the parsed body; `null` for none. */
  identifier?: (body: unknown) => string | null;
  /** True for routes that store a challenge: they also count against the per-address challenge cap. */
  issuesChallenge?: boolean;
}

/**
 * Middleware applying the configured limits to a route: per client address (when the request came
 * through a socket; `app.request()` in tests has none), per username or credential ID, and for
 * challenge-issuing routes the per-address challenge cap over one challenge lifetime, which bounds
 * the challenge table per client. Put it after `jsonBody` (it reads `c.var.body`), so 403/413/415/400
 * still come first as the contract orders them.
 *
 * @example
 * app.post('/auth/reauth/options', body, rateLimit(deps, { family: 'reauth', issuesChallenge: true }), handler);
 */
export function rateLimit(deps: Pick<Deps, 'db' | 'clock' | 'config'>, route: RateLimitRoute): MiddlewareHandler<any> {
  const { rateLimits, trustedProxies, challengeTtl } = deps.config;
  return async (c, next) => {
    await enforceRequestLimits(deps, c, route, { rateLimits, trustedProxies, challengeTtl });
    await next();
  };
}

async function enforceRequestLimits(
  deps: Pick<Deps, 'db' | 'clock'>,
  c: Context<any>,
  route: RateLimitRoute,
  config: Pick<Deps['config'], 'rateLimits' | 'trustedProxies' | 'challengeTtl'>,
): Promise<void> {
  const { windowSeconds, perAddress, perIdentifier, challengesPerAddress } = config.rateLimits;
  const address = clientAddress(c, config.trustedProxies);
  if (address !== null) {
    const key = addressKey(address);
    await enforceRateLimit(deps, { bucket: `${route.family}:address`, key, limit: perAddress, windowSeconds });
    if (route.issuesChallenge) {
      await enforceRateLimit(deps, { bucket: 'challenge:address', key, limit: challengesPerAddress, windowSeconds: config.challengeTtl });
    }
  }
  const identifier = route.identifier?.(c.var.body) ?? null;
  if (identifier !== null && identifier !== '') {
    await enforceRateLimit(deps, { bucket: `${route.family}:identifier`, key: identifier, limit: perIdentifier, windowSeconds });
  }
}

/** The `username` of a body, normalised as usernames are (NFKC, lower case), or `null`. */
export function usernameOf(body: unknown): string | null {
  const value = field(body, 'username');
  return value === null ? null : value.normalize('NFKC').toLowerCase();
}

/** The credential `id` of a WebAuthn response body, or `null`. */
export function credentialIdOf(body: unknown): string | null {
  return field(body, 'id');
}

function field(body: unknown, name: string): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const value = (body as Record<string, unknown>)[name];
  // Longer values are refused by validation anyway; they need no counter of their own.
  return typeof value === 'string' && value.length <= 2048 ? value : null;
}
