import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { getPath } from 'hono/utils/url';
import type { Deps } from '../deps.js';
import type { RequestContext } from '../request-context.js';
import { clientContext, requestContext } from './client-address.js';
import type { AppEnv } from './env.js';

/**
 * What every request passes first: its id, the security headers, its context and its log line.
 *
 * - **Request id.** Always ours (a client's `X-Request-Id` is never adopted), a random UUID, sent
 *   back in `X-Request-Id` and put in the log line.
 * - **Security headers.** The same on every response (errors, 404/405 and static files included),
 *   and `Cache-Control: no-store` on every `/auth/*` one; a header the route sets itself wins.
 * - **Request context.** The client's browser and address, read when a route first asks for it
 *   ({@link requestContextOf}) and kept for the rest of the request.
 * - **Request log.** One structured line per request; never the cookie, a token, a body or a
 *   challenge. At `debug` for an ordinary request (an access log at `info` costs a line per request
 *   at scale and buries what matters), at `warn` for a 5xx answer or a request slower than
 *   {@link SLOW_REQUEST_MS}, so the default level (`info`) keeps exactly the requests someone has to
 *   look at. Nothing is measured when neither line could be written (LOG_LEVEL above warn).
 *
 * The standalone app ({@link withFrontDoor}) does this around its `fetch`, before Hono dispatches:
 * no middleware level, so a route with a single handler takes Hono's synchronous path, and, served
 * by `@hono/node-server`, the headers go on Node's own response, so the response needs no `Headers`
 * object of its own. The contract's routes mounted in a host app ({@link frontDoor}) do the same as
 * their first middleware.
 */

/** A request slower than this is logged at `warn`, whatever its status. */
const SLOW_REQUEST_MS = 1000;

/** What `@hono/node-server` puts in the per-request `env`: Node's own request and response. */
type NodeEnv = { incoming?: IncomingMessage; outgoing?: ServerResponse };

/** The headers every response carries (`Strict-Transport-Security` only for an https origin). */
function fixedHeaders(config: Deps['config']): Array<[string, string]> {
  const fixed: Array<[string, string]> = [
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Frame-Options', 'DENY'],
  ];
  if (config.origins[0]?.startsWith('https://')) {
    fixed.push(['Strict-Transport-Security', 'max-age=63072000; includeSubDomains']);
  }
  return fixed;
}

/**
 * Puts the front door around `app.fetch` (which `app.request()` calls too): for the standalone app,
 * whose every request it sees.
 */
export function withFrontDoor(app: Hono<AppEnv>, deps: Pick<Deps, 'config' | 'logger'>): void {
  const { config, logger } = deps;
  const fixed = fixedHeaders(config);
  const dispatch = app.fetch;
  app.fetch = (request, env, executionCtx) => {
    const logging = logger.isLevelEnabled('warn');
    const started = logging ? performance.now() : 0;
    const requestId = randomUUID();
    const path = getPath(request);
    const noStore = path.startsWith('/auth/');
    const outgoing = (env as NodeEnv | undefined)?.outgoing;
    let response: Response | Promise<Response>;
    if (outgoing !== undefined) {
      // @hono/node-server: the headers on Node's own response.
      outgoing.setHeader('X-Request-Id', requestId);
      for (const [name, value] of fixed) outgoing.setHeader(name, value);
      if (noStore) outgoing.setHeader('Cache-Control', 'no-store');
      response = dispatch(request, env, executionCtx);
    } else {
      // app.request() and other adapters: on the response, each unless the route set it.
      const headers: Array<[string, string]> = [['X-Request-Id', requestId], ...fixed];
      if (noStore) headers.push(['Cache-Control', 'no-store']);
      const answered = dispatch(request, env, executionCtx);
      response =
        answered instanceof Promise
          ? answered.then((res) => withHeaders(res, headers))
          : withHeaders(answered, headers);
    }
    if (!logging) return response;
    return Promise.resolve(response).then((res) => {
      logRequest(logger, { requestId, method: request.method, path, status: res.status, started });
      return res;
    });
  };
}

/**
 * The front door as the first middleware of the contract's routes mounted in a host app, which
 * sees only their requests (server/app.ts `createAuthRoutes`).
 */
export function frontDoor(deps: Pick<Deps, 'config' | 'logger'>): MiddlewareHandler<AppEnv> {
  const { config, logger } = deps;
  const fixed = fixedHeaders(config);
  return async (c, next) => {
    const requestId = randomUUID();
    c.set('requestId', requestId);
    // On Node's own response when the adapter gives it, as withFrontDoor does; else on c.header.
    const outgoing = (c.env as NodeEnv | undefined)?.outgoing;
    const setHeader = outgoing ? (name: string, value: string) => outgoing.setHeader(name, value) : c.header;
    setHeader('X-Request-Id', requestId);
    for (const [name, value] of fixed) setHeader(name, value);
    if (c.req.path.startsWith('/auth/')) setHeader('Cache-Control', 'no-store');
    if (!logger.isLevelEnabled('warn')) return next();
    const started = performance.now();
    await next();
    logRequest(logger, { requestId, method: c.req.method, path: c.req.path, status: c.res.status, started });
  };
}

/**
 * The request's context: the client's browser and address, read on the first call (from Node's own
 * request when the adapter gives it, so no web `Headers` is built) and kept on the context.
 */
export function requestContextOf(c: Context, trustedProxies: number): RequestContext {
  const kept = c.get('requestContext') as RequestContext | undefined;
  if (kept !== undefined) return kept;
  const { incoming, outgoing } = (c.env as NodeEnv | undefined) ?? {};
  // Served by @hono/node-server (both present); a test's env may carry a socket address alone.
  const context =
    incoming !== undefined && outgoing !== undefined
      ? clientContext(
          {
            userAgent: incoming.headers['user-agent'],
            forwardedFor: incoming.headers['x-forwarded-for'],
            peer: incoming.socket?.remoteAddress,
          },
          trustedProxies,
        )
      : requestContext(c, trustedProxies);
  c.set('requestContext', context);
  return context;
}

/** The response with the front door's headers, each unless the route set it. */
function withHeaders(response: Response, headers: Array<[string, string]>): Response {
  let target = response;
  for (const [name, value] of headers) {
    if (target.headers.has(name)) continue;
    try {
      target.headers.set(name, value);
    } catch {
      // Immutable headers (a response from fetch()): a copy takes them.
      target = new Response(target.body, target);
      target.headers.set(name, value);
    }
  }
  return target;
}

function logRequest(
  logger: Deps['logger'],
  line: { requestId: string; method: string; path: string; status: number; started: number },
): void {
  const durationMs = Math.round((performance.now() - line.started) * 10) / 10;
  const level = line.status >= 500 || durationMs >= SLOW_REQUEST_MS ? 'warn' : 'debug';
  if (!logger.isLevelEnabled(level)) return;
  // Bounded: fixed fields, and the path cut at 256 characters (a URL may be kilobytes long).
  const { requestId, method, status } = line;
  logger[level]({ requestId, method, path: line.path.slice(0, 256), status, durationMs }, 'request');
}
