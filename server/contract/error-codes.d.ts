/**
 * The error codes of the HTTP contract (shared/spec/http-api.md, "Errors"), once: the server's
 * domain codes (server/errors.ts), the client's `ServerErrorCode` (client/src/errors.ts) and the
 * OpenAPI document's error schemas all derive from this list. No imports, so the browser client can
 * bundle it at the cost of a few bytes.
 */
export declare const errorCodes: readonly ['invalid_request', 'invalid_challenge', 'verification_failed', 'unauthenticated', 'unknown_credential', 'csrf', 'account_disabled', 'reauthentication_required', 'not_found', 'method_not_allowed', 'username_taken', 'credential_exists', 'last_passkey', 'payload_too_large', 'unsupported_media_type', 'rate_limited', 'internal', 'unavailable'];
/** A code of `{"error": {"code", "message"}}`. */
export type ErrorCode = (typeof errorCodes)[number];
/** The statuses each code is answered with (the contract's table; `verification_failed` has two). */
export declare const errorStatuses: {
    readonly invalid_request: readonly [400];
    readonly invalid_challenge: readonly [400];
    readonly verification_failed: readonly [400, 401];
    readonly unauthenticated: readonly [401];
    readonly unknown_credential: readonly [401];
    readonly csrf: readonly [403];
    readonly account_disabled: readonly [403];
    readonly reauthentication_required: readonly [403];
    readonly not_found: readonly [404];
    readonly method_not_allowed: readonly [405];
    readonly username_taken: readonly [409];
    readonly credential_exists: readonly [409];
    readonly last_passkey: readonly [409];
    readonly payload_too_large: readonly [413];
    readonly unsupported_media_type: readonly [415];
    readonly rate_limited: readonly [429];
    readonly internal: readonly [500];
    readonly unavailable: readonly [503];
};
/** True for a code of the contract. */
export declare function isErrorCode(value: unknown): value is ErrorCode;
