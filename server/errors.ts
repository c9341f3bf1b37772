/**
 * The closed set of error codes of the HTTP contract (shared/spec/http-api.md). Each maps to one
 * HTTP status in server/http/errors.ts; nothing here knows about HTTP. `registration_failed` is the
 * contract's `verification_failed` for a registration response, which the contract answers with 400
 * rather than 401.
 */
export type AuthErrorCode =
  | 'invalid_request'
  | 'invalid_challenge'
  | 'registration_failed'
  | 'verification_failed'
  | 'unauthenticated'
  | 'unknown_credential'
  | 'csrf'
  | 'account_disabled'
  | 'reauthentication_required'
  | 'not_found'
  | 'method_not_allowed'
  | 'username_taken'
  | 'credential_exists'
  | 'last_passkey'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal'
  | 'unavailable';

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
