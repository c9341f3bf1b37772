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
import { platformRoutes } from './platform/routes.js';
import { dbscRoutes } from './dbsc/routes.js';

export interface AppOptions {
  /** Folder of the built client and demo page (default `client/dist`). */
  staticDir?: string;
}

/**
 * Builds the auth server from injected dependencies. Serve it on its own, or mount it in another
 * Hono app (`parent.route('/', createApp(deps))`) and protect your routes with `requireSession(deps)`.
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
  app.route('/', platformRoutes(deps));
  app.route('/', dbscRoutes(deps));
  app.route('/', staticRoutes({ dir: options.staticDir }));

  app.get('/healthz', async (c) => {
    if (await pingDatabase(deps.db)) return c.json({ status: 'ok' });
    return errorResponse(c, new AuthError('unavailable'));
  });

  answerWrongMethods(app);
  app.notFound((c) => errorResponse(c, new AuthError('not_found')));
  app.onError(handleError(logger));
  return app;
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
