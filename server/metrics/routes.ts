import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { bytesEqual, sha256 } from '../crypto.js';
import { AuthError } from '../errors.js';
import { errorResponse } from '../http/errors.js';
import type { Metrics } from './metrics.js';

/**
 * Counts every request by method, matched route template and status, with its latency. Unmatched
 * paths are labelled `unmatched`: a raw path (user data, unbounded) never becomes a label.
 */
export function requestMetrics(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // After next(), the route index is that of the handler that answered.
    const template = routePath(c);
    const route = template === '' || template === '*' || template === '/*' ? 'unmatched' : template;
    metrics.observeRequest({
      method: c.req.method,
      route,
      status: c.res.status,
      seconds: (performance.now() - started) / 1000,
      errorCode: c.error instanceof AuthError ? c.error.code : null,
    });
  };
}

/** `GET /metrics` in Prometheus text format. */
export function metricsHandler(metrics: Metrics): MiddlewareHandler {
  return async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
  };
}

/** Requires `Authorization: Bearer <token>`, compared in constant time (as SHA-256 digests, any length). */
export function requireMetricsToken(token: string): MiddlewareHandler {
  const expected = sha256(token);
  return async (c, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('Authorization')?.trim() ?? '');
    if (!match || !bytesEqual(sha256(match[1] as string), expected)) {
      c.header('WWW-Authenticate', 'Bearer realm="metrics"');
      return errorResponse(c, new AuthError('unauthenticated', 'A valid metrics bearer token is required.'));
    }
    await next();
  };
}

/** The separate metrics listener's app (METRICS_PORT, bound to 127.0.0.1): `GET /metrics`, no token. */
export function metricsApp(metrics: Metrics): Hono {
  const app = new Hono();
  app.get('/metrics', metricsHandler(metrics));
  app.notFound((c) => errorResponse(c, new AuthError('not_found')));
  return app;
}
