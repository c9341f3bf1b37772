import { randomUUID } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { pingDatabase } from './db/database.js';
import type { Deps } from './deps.js';
import { AuthError } from './errors.js';
import { errorResponse, handleError } from './http/errors.js';
import { staticRoutes } from './http/static.js';
import { ceremonyRoutes } from './passkeys/routes.js';
import { sessionRoutes } from './sessions/routes.js';
import { sessionStatusRoutes } from './sessions/status-routes.js';
import { tokenRoutes } from './tokens/routes.js';
import { activityRoutes } from './audit/routes.js';
import { passkeyManagementRoutes } from './passkeys/manage-routes.js';
import { reauthRoutes } from './reauth/routes.js';
import { recoveryRoutes } from './recovery/routes.js';
import { sessionManagementRoutes } from './sessions/manage-routes.js';
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
export function createApp(deps: Deps, options: AppOptions = {}): Hono {
  const { config, logger } = deps;
  const app = new Hono();

  app.use('*', requestLog(deps));
  app.use('*', securityHeaders(config.origins[0]?.startsWith('https://') ?? false));
  addContractRoutes(app, deps);
  app.route('/', staticRoutes({ dir: options.staticDir }));

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
 * app: no demo page, no static files, no `/healthz`, no catch-all 404. Its middleware (request log,
 * security headers) is scoped to those paths, a known path with the wrong method still answers
 * 405, and errors inside it answer the contract's JSON without the host installing a handler.
 *
 * @example
 * host.route('/', createAuthRoutes(deps));
 */
export function createAuthRoutes(deps: Deps): Hono {
  const app = new Hono();
  const https = deps.config.origins[0]?.startsWith('https://') ?? false;
  for (const path of contractPaths) {
    app.use(path, requestLog(deps));
    app.use(path, securityHeaders(https));
  }
  addContractRoutes(app, deps);
  answerWrongMethods(app);
  app.onError(handleError(deps.logger, { origins: deps.config.origins }));
  return app;
}

function addContractRoutes(app: Hono, deps: Deps): void {
  app.route('/', ceremonyRoutes(deps));
  app.route('/', sessionRoutes(deps));
  app.route('/', sessionStatusRoutes(deps));
  app.route('/', tokenRoutes(deps));
  app.route('/', sessionManagementRoutes(deps));
  app.route('/', passkeyManagementRoutes(deps));
  app.route('/', reauthRoutes(deps));
  app.route('/', recoveryRoutes(deps));
  app.route('/', activityRoutes(deps));
  app.route('/', userRoutes(deps));
}

/**
 * A known path with the wrong method answers 405 (with `Allow`) before any other check, as the
 * contract orders them: 404/405, then CSRF, then the body.
 */
function answerWrongMethods(app: Hono): void {
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

/** One structured line per request; never the cookie, a token, a body or a challenge. */
function requestLog(deps: Deps): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    c.header('X-Request-Id', requestId);
    await next();
    deps.logger.info(
      { requestId, method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Math.round((performance.now() - started) * 10) / 10 },
      'request',
    );
  };
}
