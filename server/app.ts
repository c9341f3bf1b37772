import { Hono, type MiddlewareHandler } from 'hono';
import { activityRoutes } from './activity/routes.js';
import { buildOpenApiDocument } from './contract/openapi.js';
import { pingDatabase } from './db/database.js';
import { dbscRoutes } from './dbsc/routes.js';
import type { Deps } from './deps.js';
import { AuthError } from './errors.js';
import type { AppEnv } from './http/env.js';
import { errorResponse, handleError } from './http/errors.js';
import { frontDoor, withFrontDoor } from './http/front-door.js';
import { staticRoutes } from './http/static.js';
import { createMetrics } from './metrics/metrics.js';
import { metricsHandler, requestMetrics, requireMetricsToken } from './metrics/routes.js';
import { passkeyRoutes } from './passkeys/routes.js';
import { platformRoutes } from './platform/routes.js';
import { reauthRoutes } from './reauth/routes.js';
import { recoveryRoutes } from './recovery/routes.js';
import { sessionRoutes } from './sessions/routes.js';
import { tokenRoutes } from './tokens/routes.js';
import { userRoutes } from './users/routes.js';

export interface AppOptions {
  /** Folder of the built client and demo page (default `client/dist`). */
  staticDir?: string;
  /** More routes, mounted at `/` after the app's own and before its 405 and 404 (`npm run bench`'s). */
  routes?: Hono<AppEnv>[];
}

/**
 * Builds the standalone server from injected dependencies: the contract's routes, `/openapi.json`,
 * `/healthz`, `/metrics` (with `METRICS_TOKEN`), the demo page and the browser client, and the
 * contract's 404 for any other path. To embed the server in another Hono app, use `createAuth()`
 * (server/auth.ts) and mount `auth.routes` instead.
 *
 * @example
 * const app = createApp({ db, config: loadConfig(process.env), clock: systemClock, logger });
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function createApp(appDeps: Deps, options: AppOptions = {}): Hono<AppEnv> {
  const deps = withMetrics(appDeps);
  const { config, logger, metrics } = deps;
  const app = new Hono<AppEnv>();

  if (metrics) app.use('*', requestMetrics(metrics));
  // Request id, security headers, request context and request log: around fetch, not a middleware
  // level (server/http/front-door.ts).
  withFrontDoor(app, deps);

  addContractRoutes(app, deps);
  app.route('/', staticRoutes({ dir: options.staticDir })); // /, /demo.js, /demo.css, /auth-client.js
  if (metrics && config.metrics.token !== null)
    app.get('/metrics', requireMetricsToken(config.metrics.token), metricsHandler(metrics));

  app.get('/healthz', async (c) => {
    if (await pingDatabase(deps.db)) return c.json({ status: 'ok' });
    return errorResponse(c, new AuthError('unavailable'));
  });
  for (const routes of options.routes ?? []) app.route('/', routes);

  // 405 for a known path with another method, else 404: in the not-found handler, so every route
  // keeps only its own handlers (one handler takes Hono's synchronous path).
  const allowOf = allowedMethodsOf(app);
  app.notFound((c) => {
    const allow = allowOf(c.req.path);
    if (allow === undefined) return errorResponse(c, new AuthError('not_found'));
    c.header('Allow', allow);
    return errorResponse(c, new AuthError('method_not_allowed'));
  });
  app.onError(handleError(logger, { origins: config.origins }));
  return app;
}

/** The path patterns of the contract's routes: what {@link createAuthRoutes} answers, and nothing else. */
export const contractPaths = ['/auth/*', '/.well-known/*', '/openapi.json'] as const;

/**
 * The contract's routes alone (`/auth/...`, `/.well-known/...`, `/openapi.json`), for mounting in
 * another Hono app: no demo page, no static files, no `/healthz`, no catch-all 404. Its middleware
 * (request id, request log, security headers, request context) is scoped to those paths, a known
 * path with the wrong method still answers 405, and errors inside it answer the contract's JSON
 * without the host installing a handler.
 *
 * @example
 * host.route('/', createAuthRoutes(deps));
 */
export function createAuthRoutes(appDeps: Deps): Hono<AppEnv> {
  const deps = withMetrics(appDeps);
  const { config, metrics } = deps;
  const app = new Hono<AppEnv>();
  for (const path of contractPaths) {
    if (metrics) app.use(path, requestMetrics(metrics));
    app.use(path, frontDoor(deps));
  }
  addContractRoutes(app, deps);
  answerWrongMethods(app, contractPaths);
  app.onError(handleError(deps.logger, { origins: config.origins }));
  return app;
}

/** Metrics are on with METRICS_TOKEN or METRICS_PORT; server/main.ts passes its own (with the pool). */
function withMetrics(deps: Deps): Deps {
  const { config } = deps;
  const metricsOn = config.metrics.token !== null || config.metrics.port !== null;
  const metrics =
    deps.metrics ?? (metricsOn ? createMetrics({ db: deps.db, droppedLogLines: deps.droppedLogLines }) : undefined);
  return metrics ? { ...deps, metrics } : deps;
}

/** The route map. Each feature folder has one routes function, mounted by its prefix. */
function addContractRoutes(app: Hono<AppEnv>, deps: Deps): void {
  const { config, metrics } = deps;
  app.route('/auth', passkeyRoutes(deps)); // /register/{options,verify}, /login/{options,verify}, /passkeys[/options|/verify|/:id]
  app.route('/auth', sessionRoutes(deps)); // /session, /session/status, /logout, /sessions[/:id|/revoke-others]
  app.route('/auth/reauth', reauthRoutes(deps)); // /options, /verify
  app.route('/auth', recoveryRoutes(deps)); // /recovery-codes, /recover
  app.route('/auth/activity', activityRoutes(deps)); // GET
  app.route('/auth/user', userRoutes(deps)); // PATCH
  app.route('/auth/dbsc', dbscRoutes(deps)); // /register, /refresh (only with DBSC=on)
  app.route('/', tokenRoutes(deps)); // /auth/token, /auth/introspect, /.well-known/jwks.json
  app.route('/.well-known', platformRoutes(deps)); // /webauthn, /assetlinks.json, /apple-app-site-association

  // The contract as OpenAPI 3.1, built once from the schemas the routes validate with.
  const openApi = buildOpenApiDocument({
    cookieName: config.session.cookieName,
    serverUrl: config.origins[0],
    metrics: metrics !== undefined && config.metrics.token !== null,
    dbsc: config.dbsc.enabled,
  });
  app.get('/openapi.json', (c) => c.json(openApi));
}

/**
 * A known path with the wrong method answers 405 (with `Allow`) before any other check, as the
 * contract orders them: 404/405, then CSRF, then the body. For the contract's routes mounted in a
 * host app, whose not-found handler is the host's: one catch-all handler per contract prefix,
 * registered after every route, which a request no route answered reaches; it answers 405 when its
 * path is a known one, else passes on (to the host's next handler or 404). Not one fallback route
 * per path: a fallback on `/auth/passkeys/options` after `PATCH /auth/passkeys/:id` makes the route
 * table ambiguous for Hono's RegExpRouter, and the SmartRouter would then fall back to its
 * TrieRouter, which sorts the matched handlers on every request.
 */
function answerWrongMethods(app: Hono<AppEnv>, prefixes: readonly string[]): void {
  const allowOf = allowedMethodsOf(app);
  const answer: MiddlewareHandler<AppEnv> = async (c, next) => {
    const allow = allowOf(c.req.path);
    if (allow === undefined) return next();
    c.header('Allow', allow);
    return errorResponse(c, new AuthError('method_not_allowed'));
  };
  for (const prefix of prefixes) app.all(prefix, answer);
}

/**
 * The `Allow` value of a path the app has routes for, from the routes registered so far, or
 * `undefined`: its own route path's methods, or for a path matching only routes with a parameter,
 * the first of them in registration order. Static paths are one map lookup; only the few paths
 * with a parameter are tried in turn.
 */
function allowedMethodsOf(app: Hono<AppEnv>): (path: string) => string | undefined {
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const methods = allowed.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
    allowed.set(route.path, methods);
  }
  const staticAllow = new Map<string, string>();
  const patterns: { pattern: RegExp; allow: string }[] = [];
  for (const [path, methods] of allowed) {
    const allow = [...methods].join(', ');
    if (/[:*]/.test(path)) patterns.push({ pattern: patternOf(path), allow });
    else staticAllow.set(path, allow);
  }
  return (path) => {
    const allow = staticAllow.get(path);
    if (allow !== undefined) return allow;
    for (const { pattern, allow } of patterns) if (pattern.test(path)) return allow;
    return undefined;
  };
}

/** A route path as a regular expression over request paths (`:name` one segment, `*` the rest). */
function patternOf(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) =>
      segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}
