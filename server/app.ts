import { Hono, type MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import { activityRoutes } from './activity/routes.js';
import { pingDatabase } from './db/database.js';
import type { Deps } from './deps.js';
import { AuthError } from './errors.js';
import { requestContext } from './http/client-address.js';
import type { AppEnv } from './http/env.js';
import { errorResponse, handleError } from './http/errors.js';
import { staticRoutes } from './http/static.js';
import { passkeyRoutes } from './passkeys/routes.js';
import { reauthRoutes } from './reauth/routes.js';
import { recoveryRoutes } from './recovery/routes.js';
import { sessionRoutes } from './sessions/routes.js';
import { tokenRoutes } from './tokens/routes.js';
import { userRoutes } from './users/routes.js';

export interface AppOptions {
  /** Folder of the built client and demo page (default `client/dist`). */
  staticDir?: string;
}

/**
 * Builds the standalone server from injected dependencies: the contract's routes, `/healthz`, the
 * demo page and the browser client, and the contract's 404 for any other path. To embed the server
 * in another Hono app, use `createAuth()` (server/auth.ts) and mount `auth.routes` instead.
 *
 * @example
 * const app = createApp({ db, config: loadConfig(process.env), clock: systemClock, logger });
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function createApp(deps: Deps, options: AppOptions = {}): Hono<AppEnv> {
  const { config, logger } = deps;
  const app = new Hono<AppEnv>();

  // The id is always ours (a client's X-Request-Id is never adopted: limitLength 0 refuses every
  // incoming one), sent back in X-Request-Id and put in the log line.
  app.use('*', requestId({ limitLength: 0 }));
  app.use('*', requestLog(deps));
  app.use('*', securityHeaders(config.origins[0]?.startsWith('https://') ?? false));
  app.use('*', setRequestContext(config.trustedProxies));

  addContractRoutes(app, deps);
  app.route('/', staticRoutes({ dir: options.staticDir })); // /, /demo.js, /demo.css, /auth-client.js

  app.get('/healthz', async (c) => {
    if (await pingDatabase(deps.db)) return c.json({ status: 'ok' });
    return errorResponse(c, new AuthError('unavailable'));
  });

  answerWrongMethods(app);
  app.notFound((c) => errorResponse(c, new AuthError('not_found')));
  app.onError(handleError(logger, { origins: config.origins }));
  return app;
}

/** The path patterns of the contract's routes: what {@link createAuthRoutes} answers, and nothing else. */
export const contractPaths = ['/auth/*', '/.well-known/*'] as const;

/**
 * The contract's routes alone (`/auth/...`, `/.well-known/jwks.json`), for mounting in another Hono
 * app: no demo page, no static files, no `/healthz`, no catch-all 404. Its middleware (request id,
 * request log, security headers, request context) is scoped to those paths, a known path with the
 * wrong method still answers 405, and errors inside it answer the contract's JSON without the host
 * installing a handler.
 *
 * @example
 * host.route('/', createAuthRoutes(deps));
 */
export function createAuthRoutes(deps: Deps): Hono<AppEnv> {
  const { config } = deps;
  const app = new Hono<AppEnv>();
  const https = config.origins[0]?.startsWith('https://') ?? false;
  for (const path of contractPaths) {
    app.use(path, requestId({ limitLength: 0 }));
    app.use(path, requestLog(deps));
    app.use(path, securityHeaders(https));
    app.use(path, setRequestContext(config.trustedProxies));
  }
  addContractRoutes(app, deps);
  answerWrongMethods(app);
  app.onError(handleError(deps.logger, { origins: config.origins }));
  return app;
}

/** The route map. Each feature folder has one routes function, mounted by its prefix. */
function addContractRoutes(app: Hono<AppEnv>, deps: Deps): void {
  app.route('/auth', passkeyRoutes(deps)); // /register/{options,verify}, /login/{options,verify}, /passkeys[/options|/verify|/:id]
  app.route('/auth', sessionRoutes(deps)); // /session, /session/status, /logout, /sessions[/:id|/revoke-others]
  app.route('/auth/reauth', reauthRoutes(deps)); // /options, /verify
  app.route('/auth', recoveryRoutes(deps)); // /recovery-codes, /recover
  app.route('/auth/activity', activityRoutes(deps)); // GET
  app.route('/auth/user', userRoutes(deps)); // PATCH
  app.route('/', tokenRoutes(deps)); // /auth/token, /auth/introspect, /.well-known/jwks.json
}

/** Puts the request's browser and address in `c.var.requestContext`, once per request. */
function setRequestContext(trustedProxies: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('requestContext', requestContext(c, trustedProxies));
    await next();
  };
}

/**
 * A known path with the wrong method answers 405 (with `Allow`) before any other check, as the
 * contract orders them: 404/405, then CSRF, then the body.
 */
function answerWrongMethods(app: Hono<AppEnv>): void {
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const methods = allowed.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
    allowed.set(route.path, methods);
  }
  for (const [path, methods] of allowed) {
    app.all(path, (c) => {
      c.header('Allow', [...methods].join(', '));
      return errorResponse(c, new AuthError('method_not_allowed'));
    });
  }
}

function securityHeaders(https: boolean): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
    if (https) c.header('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
    if (c.req.path.startsWith('/auth/')) c.header('Cache-Control', 'no-store');
  };
}

/** A request slower than this is logged at `warn`, whatever its status. */
const SLOW_REQUEST_MS = 1000;

/**
 * One structured line per request; never the cookie, a token, a body or a challenge. At `debug`
 * for an ordinary request (an access log at `info` costs a line per request at scale and buries
 * what matters), at `warn` for a 5xx answer or a request slower than {@link SLOW_REQUEST_MS}, so
 * the default level (`info`) keeps exactly the requests someone has to look at.
 */
function requestLog(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const { requestId } = c.var;
    await next();
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const status = c.res.status;
    const level = status >= 500 || durationMs >= SLOW_REQUEST_MS ? 'warn' : 'debug';
    if (!deps.logger.isLevelEnabled(level)) return;
    deps.logger[level]({ requestId, method: c.req.method, path: c.req.path, status, durationMs }, 'request');
  };
}
