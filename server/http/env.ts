import type { RequestContext } from '../request-context.js';

/**
 * The Hono environment of every route: the request id and context, which the front door
 * (server/http/front-door.ts) puts in `c.var` when the routes are mounted in a host app (read them
 * with `requestContextOf`), and `body`, which `jsonBody` sets on the routes that take one. The signed-in
 * `user` and `session` come from `requireSession` (server/sessions/gate.ts) on the routes that use it.
 */
export interface AppEnv {
  Variables: {
    /** This request's id, sent back in `X-Request-Id` and put in its log line. */
    requestId?: string;
    /** The client's browser and address, as audit events and sessions record them. */
    requestContext?: RequestContext;
    body: unknown;
  };
}
