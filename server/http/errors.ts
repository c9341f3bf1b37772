import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { ErrorCode } from '../contract/error-codes.js';
import { isRetryableTransactionError } from '../db/transaction.js';
import { AuthError, type AuthErrorCode } from '../errors.js';

/** The one table from error codes to HTTP statuses (and, where they differ, the wire code). */
const statusOf: Record<AuthErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  invalid_challenge: 400,
  registration_failed: 400,
  verification_failed: 401,
  unauthenticated: 401,
  unknown_credential: 401,
  csrf: 403,
  account_disabled: 403,
  reauthentication_required: 403,
  not_found: 404,
  method_not_allowed: 405,
  username_taken: 409,
  credential_exists: 409,
  last_passkey: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

const wireCode: Partial<Record<AuthErrorCode, ErrorCode>> = { registration_failed: 'verification_failed' };

/** Writes `{"error": {"code", "message"}}` with the status of the code. */
export function errorResponse(c: Context, error: AuthError): Response {
  if (error.code === 'rate_limited' && error.retryAfter !== undefined)
    c.header('Retry-After', String(error.retryAfter));
  if (error.code === 'payload_too_large') c.header('Connection', 'close');
  return c.json({ error: { code: wireCode[error.code] ?? error.code, message: error.message } }, statusOf[error.code]);
}

// "not queryable": a connection lost inside a transaction makes the rollback fail with this, which
// replaces the original error (found by `npm run soak`).
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** True for errors that mean the database cannot be reached now (as opposed to a bug). */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (unavailableCodes.has(code) || code.startsWith('08'))) return true;
    if (
      /timeout exceeded when trying to connect|Connection terminated|connection timeout|PGlite is closed|Query read timeout|Cannot use a pool after calling end|Client has encountered a connection error and is not queryable/i.test(
        e.message,
      )
    ) {
      return true;
    }
  }
  return false;
}

/**
 * Turns any thrown value into the contract's error body. Domain errors keep their code; an
 * unreachable database is 503; anything else is a bug, logged with its stack and answered with a
 * bare `internal` (no library text, SQL or stack reaches the client).
 */
export function handleError(logger: Logger, options: { origins?: readonly string[] } = {}) {
  const allowed = options.origins === undefined ? null : new Set(options.origins);
  return (error: unknown, c: Context): Response => {
    if (error instanceof AuthError) {
      // A refused Origin is most often a deployment mistake (ORIGIN not matching where the page is
      // served): say which origin came and which are allowed, once per request.
      const origin = c.req.header('origin');
      if (error.code === 'csrf' && allowed !== null && origin !== undefined && !allowed.has(origin)) {
        logger.warn(
          { origin, allowed: [...allowed] },
          `request refused: Origin ${origin} is not one of the allowed origins (${[...allowed].join(', ')}); set ORIGIN`,
        );
      }
      return errorResponse(c, error);
    }
    // Still a serialization failure or deadlock after every retry (server/db/transaction.ts): the
    // request may simply be sent again, so 503, not a 500.
    if (isRetryableTransactionError(error)) {
      logger.warn({ err: error }, 'transaction conflict persisted after retries');
      return errorResponse(c, new AuthError('unavailable'));
    }
    if (isDatabaseUnavailable(error)) {
      logger.error({ err: error }, 'database unavailable');
      return errorResponse(c, new AuthError('unavailable'));
    }
    logger.error({ err: error }, 'unhandled error');
    return errorResponse(c, new AuthError('internal'));
  };
}
