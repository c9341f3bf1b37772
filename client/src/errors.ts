import { WebAuthnError } from '@simplewebauthn/browser';
// A list of strings without imports: the only runtime piece of the contract the client bundles.
import { type ErrorCode, isErrorCode } from '../../server/contract/error-codes.js';

/**
 * Error codes the server sends in `{"error": {"code", "message"}}` (see `shared/spec/http-api.md`);
 * the contract's one list, server/contract/error-codes.ts.
 */
export type ServerErrorCode = ErrorCode;

/**
 * Error codes raised in the browser, before or instead of a server answer:
 *
 * - `network_error`: the request did not reach the server, or no answer came back.
 * - `cancelled`: the user dismissed or timed out the passkey prompt (`NotAllowedError`), or the
 *   ceremony was aborted because another one started.
 * - `unsupported`: this browser has no WebAuthn (or, for autofill, no conditional mediation).
 * - `webauthn_error`: any other failure of the browser's WebAuthn call; see `cause`.
 */
export type ClientErrorCode = 'network_error' | 'cancelled' | 'unsupported' | 'webauthn_error';

/** Every code an {@link AuthClientError} can carry: a closed list. */
export type AuthErrorCode = ServerErrorCode | ClientErrorCode;

/**
 * The one error type the client library throws.
 *
 * `code` is the contract's error code for server answers, or one of the client codes
 * (`network_error`, `cancelled`, `unsupported`, `webauthn_error`). `status` is the HTTP status when
 * the server answered; `retryAfter` is the number of seconds from `Retry-After` on a 429.
 * The original error (a `TypeError` from `fetch`, a `WebAuthnError` from the browser) is `cause`.
 *
 * @example
 * try {
 *   await register({ username: 'ann' });
 * } catch (err) {
 *   if (err instanceof AuthClientError && err.code === 'username_taken') {
 *     showHint('Pick another username');
 *   } else {
 *     throw err;
 *   }
 * }
 */
export class AuthClientError extends Error {
  override name = 'AuthClientError';
  readonly code: AuthErrorCode;
  readonly status: number | undefined;
  readonly retryAfter: number | undefined;

  constructor(
    code: AuthErrorCode,
    message: string,
    { status, retryAfter, cause }: { status?: number; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/**
 * Turn a non-2xx response into an {@link AuthClientError}. A body that is not the contract's error
 * shape (a proxy's HTML page, say) gets a code chosen from the status alone.
 */
export async function errorFromResponse(response: Response): Promise<AuthClientError> {
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
  let code: ServerErrorCode | undefined;
  let message: string | undefined;
  try {
    const body: unknown = await response.json();
    const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    if (isErrorCode(error?.code)) code = error.code;
    if (typeof error?.message === 'string') message = error.message;
  } catch {
    // Not JSON: fall back to the status below.
  }
  code ??= codeForStatus(response.status);
  return new AuthClientError(code, message ?? `Request failed with status ${response.status}`, {
    status: response.status,
    retryAfter,
  });
}

function codeForStatus(status: number): ServerErrorCode {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'unauthenticated';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 502:
    case 503:
    case 504:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'invalid_request';
  }
}

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Wrap whatever `startRegistration()` / `startAuthentication()` threw. `NotAllowedError` is what
 * browsers raise when the user closes the prompt, it times out, or no passkey matches; an abort
 * means another ceremony replaced this one. Both are `cancelled`, not failures.
 */
export function errorFromWebAuthn(err: unknown): AuthClientError {
  if (err instanceof AuthClientError) return err;
  if (isAbortError(err) || (err instanceof Error && err.name === 'NotAllowedError')) {
    return new AuthClientError('cancelled', 'The passkey prompt was cancelled', { cause: err });
  }
  const message = err instanceof Error ? err.message : 'The browser could not use a passkey';
  return new AuthClientError('webauthn_error', message, { cause: err });
}

/** True for a WebAuthn ceremony that was aborted (by us, or by a newer ceremony) or a DOM abort. */
export function isAbortError(err: unknown): boolean {
  if (err instanceof WebAuthnError) return err.code === 'ERROR_CEREMONY_ABORTED';
  return err instanceof Error && err.name === 'AbortError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

const webAuthnMessages: Partial<Record<WebAuthnError['code'], string>> = {
  ERROR_AUTHENTICATOR_MISSING_DISCOVERABLE_CREDENTIAL_SUPPORT:
    'This device or security key cannot store a passkey. Try another device or a password manager.',
  ERROR_AUTHENTICATOR_MISSING_USER_VERIFICATION_SUPPORT:
    'This device cannot verify you with a PIN, fingerprint or face. Set one up, or use another device.',
  ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED: 'This device already holds a passkey for this account.',
  ERROR_AUTHENTICATOR_NO_SUPPORTED_PUBKEYCREDPARAMS_ALG:
    'This device does not support the kind of passkey this site needs.',
  ERROR_INVALID_DOMAIN: 'Passkeys do not work on this address. Open the site by its proper name.',
  ERROR_INVALID_RP_ID: 'Passkeys do not work on this address. Open the site by its proper name.',
};

/** What the user was doing when an error happened, so {@link describeError} can say what to do next. */
export type UserAction = 'sign-in' | 'sign-up' | 'step-up' | 'add-passkey' | 'recover' | 'manage';

/** Options for {@link describeError}. */
export interface DescribeErrorOptions {
  /** What the user was doing; the default, `manage`, fits account actions. */
  action?: UserAction;
}

const cancelledMessages: Record<UserAction, string> = {
  'sign-in':
    'Sign-in did not finish: the passkey prompt was closed, or your fingerprint, face or PIN was not confirmed. If this device has no passkey for this site, choose "Use a different device" in the prompt to use your phone, or create an account.',
  'sign-up': 'Passkey creation was cancelled, so no account was created. Press the button again when you are ready.',
  'step-up': 'The confirmation was cancelled, so nothing was changed.',
  'add-passkey':
    'The new passkey was not created: the prompt was closed, or this device already has one for your account.',
  recover: 'The new passkey was not created. Try again to finish recovering your account.',
  manage: 'The passkey prompt was closed or timed out. Please try again.',
};

const verificationFailedMessages: Record<UserAction, string> = {
  'sign-in':
    'Your passkey could not be verified. Unlock it with your fingerprint, face or PIN when asked, then try again.',
  'sign-up': 'The new passkey could not be verified. Please try again.',
  'step-up':
    "That did not confirm it is you: use one of this account's passkeys and unlock it with your fingerprint, face or PIN.",
  'add-passkey': 'The new passkey could not be verified. Please try again.',
  recover: 'That username and recovery code do not match. Check the code and try again.',
  manage: 'The passkey could not be verified. Please try again.',
};

/**
 * A short, human message for any error the client throws, to show in the page, saying what to do
 * next. Pass what the user was doing (`action`) for the most fitting advice. Errors that are not
 * {@link AuthClientError}s get a generic message.
 *
 * @example
 * try {
 *   await signIn();
 * } catch (err) {
 *   status.textContent = describeError(err, { action: 'sign-in' }); // e.g. "Too many attempts. Wait 30 seconds and try again."
 * }
 */
export function describeError(err: unknown, { action = 'manage' }: DescribeErrorOptions = {}): string {
  if (!(err instanceof AuthClientError)) return 'Something went wrong. Please try again.';
  switch (err.code) {
    case 'cancelled':
      return cancelledMessages[action];
    case 'unsupported':
      return 'This browser does not support passkeys here. Try an up-to-date browser.';
    case 'webauthn_error': {
      const code = err.cause instanceof WebAuthnError ? err.cause.code : undefined;
      return (code && webAuthnMessages[code]) ?? 'Your device could not use a passkey. Please try again.';
    }
    case 'network_error':
      return isOffline()
        ? 'You are offline. Reconnect to the internet and try again.'
        : 'Cannot reach the server. Check your connection and try again in a moment.';
    case 'username_taken':
      return 'That username is taken. Please choose another one, or sign in if it is yours.';
    case 'unknown_credential':
      return 'This passkey is not registered here any more (it may have been deleted). Choose another passkey, or create an account.';
    case 'verification_failed':
      return verificationFailedMessages[action];
    case 'invalid_challenge':
      return 'The attempt took too long and expired. Please try again.';
    case 'account_disabled':
      return 'This account is disabled. Contact support to have it enabled again.';
    case 'unauthenticated':
      return 'You are signed out. Please sign in again.';
    case 'reauthentication_required':
      return 'Please confirm it is you with your passkey first.';
    case 'rate_limited':
      return err.retryAfter === undefined
        ? 'Too many attempts. Please wait a minute and try again.'
        : `Too many attempts. Wait ${formatWait(err.retryAfter)} and try again.`;
    case 'credential_exists':
      return 'This passkey is already registered.';
    case 'last_passkey':
      return 'You cannot delete your only passkey. Add another one first.';
    case 'invalid_request':
      return action === 'sign-up'
        ? 'Please check what you entered: usernames have 3 to 64 characters, display names at most 64.'
        : 'Please check what you entered and try again.';
    case 'not_found':
      return action === 'manage'
        ? 'That item no longer exists. The page has been refreshed.'
        : 'Something went wrong on our side. Please try again.';
    case 'csrf':
      return 'The request was refused because it did not come from this site. Reload the page and try again.';
    case 'unavailable':
      return 'The service is temporarily unavailable. Please try again shortly.';
    case 'payload_too_large':
    case 'unsupported_media_type':
    case 'method_not_allowed':
    case 'internal':
      return 'Something went wrong on our side. Please try again.';
  }
}

function formatWait(seconds: number): string {
  if (seconds <= 1) return 'a second';
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

function isOffline(): boolean {
  const navigator = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return navigator?.onLine === false;
}
