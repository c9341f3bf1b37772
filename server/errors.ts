import type { ErrorCode } from './contract/error-codes.js';

/**
 * The codes a domain error can carry: the contract's error codes (server/contract/error-codes.ts,
 * the one list), plus `registration_failed`, a server-only code for a registration response that
 * does not verify, which goes on the wire as the contract's `verification_failed` with 400 rather
 * than 401. Each maps to one HTTP status in server/http/errors.ts; nothing here knows about HTTP.
 */
export type AuthErrorCode = ErrorCode | 'registration_failed';

const defaultMessages: Record<AuthErrorCode, string> = {
  invalid_request: 'The request is malformed.',
  invalid_challenge: 'The challenge is unknown, expired or already used. Start the ceremony again.',
  registration_failed: 'The registration response could not be verified.',
  verification_failed: 'The passkey response could not be verified.',
  unauthenticated: 'You are not signed in.',
  unknown_credential: 'This passkey is not registered here.',
  csrf: 'Cross-site request refused.',
  account_disabled: 'This account is disabled.',
  reauthentication_required: 'Confirm it is you with your passkey first.',
  not_found: 'Not found.',
  method_not_allowed: 'Method not allowed.',
  username_taken: 'This username is already taken.',
  credential_exists: 'This passkey is already registered.',
  last_passkey: 'You cannot delete your only passkey.',
  payload_too_large: 'The request body is too large.',
  unsupported_media_type: 'The request body must be application/json.',
  rate_limited: 'Too many attempts. Try again later.',
  internal: 'Something went wrong on our side.',
  unavailable: 'The service is temporarily unavailable. Try again shortly.',
};

/**
 * The one domain error. `message` is safe to show to a client: library text (which can hold the
 * expected challenge or origin) goes into `cause` and is only logged.
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  /** Seconds, for `rate_limited`. */
  readonly retryAfter?: number;

  constructor(code: AuthErrorCode, message?: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message ?? defaultMessages[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}
