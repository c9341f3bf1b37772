import type { RequestContext } from '../request-context.js';

/**
 * The Hono environment of every route: what the app's middleware (server/app.ts) puts in `c.var`
 * once per request, and `body`, which `jsonBody` sets on the routes that take one. The signed-in
 * `user` and `session` come from `requireSession` (server/sessions/gate.ts) on the routes that use it.
 */
export interface AppEnv {
  Variables: {
    /** This request's id, sent back in `X-Request-Id` and put in its log line. */
    requestId: string;
    /** The client's browser and address, as audit events and sessions record them. */
    requestContext: RequestContext;
    body: unknown;
  };
}
