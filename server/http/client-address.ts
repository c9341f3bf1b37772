import type { Context } from 'hono';
import type { RequestContext } from '../request-context.js';

/**
 * The client's address: the socket's `peer`, or, when `trustedProxies` reverse proxies are
 * configured, the address that many hops from the right of `X-Forwarded-For` (entries left of it
 * are whatever the client chose to send, so rotating them changes nothing). `null` when unknown.
 */
function clientAddressOf(
  forwardedFor: string | string[] | null | undefined,
  peer: string | null | undefined,
  trustedProxies: number,
): string | null {
  if (trustedProxies === 0) return peer ?? null;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const forwarded = header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedProxies] ?? peer ?? null;
}

/** What a new session records about a request: its `User-Agent` (at most 512 characters) and client address. */
export function clientContext(
  request: {
    userAgent: string | null | undefined;
    forwardedFor: string | string[] | null | undefined;
    peer: string | null | undefined;
  },
  trustedProxies: number,
): RequestContext {
  return {
    userAgent: request.userAgent?.slice(0, 512) ?? null,
    ipAddress: clientAddressOf(request.forwardedFor, request.peer, trustedProxies),
  };
}

/** {@link clientContext} of a Hono request (the socket's peer from the adapter's `env`, when there is one). */
export function requestContext(c: Context, trustedProxies: number): RequestContext {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return clientContext(
    {
      userAgent: c.req.header('user-agent'),
      forwardedFor: c.req.header('x-forwarded-for'),
      peer: env?.incoming?.socket?.remoteAddress,
    },
    trustedProxies,
  );
}
