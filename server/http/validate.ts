import type { MiddlewareHandler } from 'hono';
import * as v from 'valibot';
import { AuthError } from '../errors.js';

/** A schema's issues as the message of a `400 invalid_request` (the first issue, with its path). */
export function invalidRequest(issues: readonly v.BaseIssue<unknown>[]): AuthError {
  const [issue] = issues;
  const path = issue?.path?.map((item) => String(item.key)).join('.');
  const message = issue?.message ?? 'The request is malformed.';
  // Custom messages name their field already; the library's own say only what was expected.
  return new AuthError(
    'invalid_request',
    path && !message.includes(path.split('.').at(-1) as string) ? `${path}: ${message}` : message,
  );
}

/** Parses `value` with a contract schema (server/contract/schemas.ts), or throws `invalid_request`. */
export function parseInput<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  // Every request body of the contract is an object (valibot's objects would take an array).
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AuthError('invalid_request', 'The body must be a JSON object.');
  // Stop a pipe at its first failed check, so later checks only see values of the right form.
  const result = v.safeParse(schema, value, { abortPipeEarly: true });
  if (!result.success) throw invalidRequest(result.issues);
  return result.output;
}

/**
 * Validates the JSON body that `jsonBody` parsed (so 404/405, CSRF, 413 and 415 have already been
 * answered, in the contract's order) against a schema: `400 invalid_request` with the contract's
 * envelope, else the typed value in `c.var.input`. Routes put it where their field checks always
 * ran: after the rate limit of a ceremony, after authentication on a signed-in user's route.
 */
export function validBody<S extends v.GenericSchema>(
  schema: S,
): MiddlewareHandler<{ Variables: { body: unknown; input: v.InferOutput<S> } }> {
  return async (c, next) => {
    c.set('input', parseInput(schema, c.var.body));
    await next();
  };
}

/** Validates the query string against a schema: `400 invalid_request`, else the typed value in `c.var.query`. */
export function validQuery<S extends v.GenericSchema>(
  schema: S,
): MiddlewareHandler<{ Variables: { query: v.InferOutput<S> } }> {
  return async (c, next) => {
    c.set('query', parseInput(schema, c.req.query()));
    await next();
  };
}
