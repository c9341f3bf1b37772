/**
 * The error codes of the HTTP contract (shared/spec/http-api.md, "Errors"), once: the server's
 * domain codes (server/errors.ts), the client's `ServerErrorCode` (client/src/errors.ts) and the
 * OpenAPI document's error schemas all derive from this list. No imports, so the browser client can
 * bundle it at the cost of a few bytes.
 */
export const errorCodes = [
  'invalid_request',
  'invalid_challenge',
  'verification_failed',
  'unauthenticated',
  'unknown_credential',
  'csrf',
  'account_disabled',
  'reauthentication_required',
  'not_found',
  'method_not_allowed',
  'username_taken',
  'credential_exists',
  'last_passkey',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'internal',
  'unavailable',
] as const;

/** A code of `{"error": {"code", "message"}}`. */
export type ErrorCode = (typeof errorCodes)[number];

/** The statuses each code is answered with (the contract's table; `verification_failed` has two). */
export const errorStatuses = {
  invalid_request: [400],
  invalid_challenge: [400],
  verification_failed: [400, 401],
  unauthenticated: [401],
  unknown_credential: [401],
  csrf: [403],
  account_disabled: [403],
  reauthentication_required: [403],
  not_found: [404],
  method_not_allowed: [405],
  username_taken: [409],
  credential_exists: [409],
  last_passkey: [409],
  payload_too_large: [413],
  unsupported_media_type: [415],
  rate_limited: [429],
  internal: [500],
  unavailable: [503],
} as const satisfies Record<ErrorCode, readonly number[]>;

/** True for a code of the contract. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (errorCodes as readonly string[]).includes(value);
}
