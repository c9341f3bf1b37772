import type { Context, MiddlewareHandler } from 'hono';
import { sha256 } from '../crypto.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { addressKey } from '../net/address.js';
import { hitCounters } from '../rate-limits/repository.js';
import { canonicalUsername } from '../username.js';
import { requestContextOf } from './front-door.js';

export interface RateLimitOptions {
  /** The counter's name, e.g. `login:address` or `recovery:identifier` (at most 64 characters). */
  bucket: string;
  /** What is limited: a client address (see `addressKey` in server/net/address.ts), a username, a credential ID. Stored only as SHA-256. */
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
export async function enforceRateLimit(
  deps: Pick<Deps, 'db' | 'clock' | 'metrics'>,
  options: RateLimitOptions,
): Promise<void> {
  await enforceRateLimits(deps, [options]);
}

/**
 * {@link enforceRateLimit} for several limits in order, in one statement: a limit is counted only
 * when the ones before it admitted the request, and the first one over its count answers 429.
 */
async function enforceRateLimits(
  deps: Pick<Deps, 'db' | 'clock' | 'metrics'>,
  limits: RateLimitOptions[],
): Promise<void> {
  const counted = limits.filter((limit) => limit.limit > 0);
  if (counted.length === 0) return;
  const now = deps.clock.now();
  const counters = counted.map(({ bucket, key, limit, windowSeconds }) => ({
    bucket,
    key: sha256(`${bucket}\u0000${key}`),
    limit,
    windowSeconds,
  }));
  const results = await hitCounters(deps.db, counters, now);
  for (const [i, limit] of counted.entries()) {
    const result = results[i];
    if (result === undefined) break;
    if (result.hits > limit.limit) {
      const retryAfter = Math.max(1, Math.ceil((result.expiresAt.getTime() - now.getTime()) / 1000));
      deps.metrics?.rateLimited(limit.bucket);
      throw new AuthError('rate_limited', undefined, { retryAfter });
    }
  }
}

/** What `jsonBody` (server/http/body.ts) puts in `c.var`, which the identifier is read from. */
type BodyEnv = { Variables: { body: unknown } };

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
export function rateLimit(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  route: RateLimitRoute,
): MiddlewareHandler<BodyEnv> {
  const { rateLimits, trustedProxies, challengeTtl } = deps.config;
  return async (c, next) => {
    await enforceRequestLimits(deps, c, route, { rateLimits, trustedProxies, challengeTtl });
    await next();
  };
}

async function enforceRequestLimits(
  deps: Pick<Deps, 'db' | 'clock'>,
  c: Context<BodyEnv>,
  route: RateLimitRoute,
  config: Pick<Deps['config'], 'rateLimits' | 'trustedProxies' | 'challengeTtl'>,
): Promise<void> {
  const { windowSeconds, perAddress, perIdentifier, challengesPerAddress } = config.rateLimits;
  const address = requestContextOf(c, config.trustedProxies).ipAddress;
  const limits: RateLimitOptions[] = [];
  if (address !== null) {
    const key = addressKey(address);
    limits.push({ bucket: `${route.family}:address`, key, limit: perAddress, windowSeconds });
    if (route.issuesChallenge)
      limits.push({
        bucket: 'challenge:address',
        key,
        limit: challengesPerAddress,
        windowSeconds: config.challengeTtl,
      });
  }
  const identifier = route.identifier?.(c.get('body')) ?? null;
  if (identifier !== null && identifier !== '') {
    limits.push({ bucket: `${route.family}:identifier`, key: identifier, limit: perIdentifier, windowSeconds });
  }
  // One statement for all of them, counted in this order (server/rate-limits/repository.ts).
  await enforceRateLimits(deps, limits);
}

/** The `username` of a body, normalised as usernames are (NFKC, lower case), or `null`. */
export function usernameOf(body: unknown): string | null {
  const value = field(body, 'username');
  return value === null ? null : canonicalUsername(value);
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
