import type { Context } from 'hono';
import type { RequestContext } from '../request-context.js';

/**
 * The client's address: the socket's peer, or, when `trustedProxies` reverse proxies are configured,
 * the address that many hops from the right of `X-Forwarded-For` (entries left of it are whatever
 * the client chose to send, so rotating them changes nothing). `null` when unknown (app.request()).
 */
export function clientAddress(c: Context, trustedProxies: number): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const peer = env?.incoming?.socket?.remoteAddress ?? null;
  if (trustedProxies === 0) return peer;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedProxies] ?? peer;
}

/** What a new session records about the request that created it. */
export function requestContext(c: Context, trustedProxies: number): RequestContext {
  return { userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null, ipAddress: clientAddress(c, trustedProxies) };
}
