/**
 * Browser client for the passkey auth server: sign up, sign in (picker or autofill), sign out and
 * read the session, over `@simplewebauthn/browser` and the HTTP contract in `shared/spec/http-api.md`.
 *
 * Use {@link createAuthClient} for a server on another origin, or the functions exported here,
 * which talk to this page's origin.
 *
 * @module
 */
import {
  browserSupportsWebAuthn as supportsWebAuthn,
  browserSupportsWebAuthnAutofill as supportsWebAuthnAutofill,
} from '@simplewebauthn/browser';
import { createAuthClient, type AutofillOptions, type RegisterOptions, type SignedIn } from './client.js';
import type { SessionInfo } from './types.js';

export { createAuthClient } from './client.js';
export type { AuthClient, AuthClientOptions, AutofillOptions, RegisterOptions, SignedIn } from './client.js';
export { AuthClientError, describeError } from './errors.js';
export type { AuthErrorCode, ClientErrorCode, ServerErrorCode } from './errors.js';
export type { FetchLike } from './http.js';
export type { Session, SessionInfo, User } from './types.js';

const defaultClient = createAuthClient();

/**
 * Create an account with a new passkey on this page's origin; resolves once signed in.
 * Rejects with an `AuthClientError` (`username_taken`, `cancelled`, `invalid_request`, ...).
 *
 * @example
 * import { register } from '/auth-client.js';
 * const { user } = await register({ username: 'ann', displayName: 'Ann Lee' });
 */
export function register(options: RegisterOptions): Promise<SignedIn> {
  return defaultClient.register(options);
}

/**
 * Sign in with the browser's passkey picker on this page's origin. Ends a pending autofill
 * sign-in first. Rejects with an `AuthClientError` (`cancelled` when the prompt is closed).
 *
 * @example
 * import { signIn } from '/auth-client.js';
 * const { user } = await signIn();
 */
export function signIn(): Promise<SignedIn> {
  return defaultClient.signIn();
}

/**
 * Offer passkeys in the autofill of an `<input autocomplete="username webauthn">`; resolves
 * `{ user }` when the user picks one. Resolves `null` when aborted by `signal` or replaced by
 * another ceremony (such as `signIn()`); it never rejects for an abort.
 *
 * @example
 * import { browserSupportsWebAuthnAutofill, signInWithAutofill } from '/auth-client.js';
 * if (await browserSupportsWebAuthnAutofill()) {
 *   const autofill = new AbortController();
 *   const result = await signInWithAutofill({ signal: autofill.signal });
 *   if (result) console.log('signed in as', result.user.username);
 * }
 */
export function signInWithAutofill(options?: AutofillOptions): Promise<SignedIn | null> {
  return defaultClient.signInWithAutofill(options);
}

/**
 * Sign out on this page's origin: the session is revoked and the cookie cleared. Resolves too when
 * there was no session.
 *
 * @example
 * import { signOut } from '/auth-client.js';
 * await signOut();
 */
export function signOut(): Promise<void> {
  return defaultClient.signOut();
}

/**
 * The signed-in user and session on this page's origin, or `null` when signed out.
 *
 * @example
 * import { getSession } from '/auth-client.js';
 * const current = await getSession();
 * console.log(current ? `Hello ${current.user.displayName}` : 'Signed out');
 */
export function getSession(): Promise<SessionInfo | null> {
  return defaultClient.getSession();
}

/**
 * Whether this browser has WebAuthn at all (from `@simplewebauthn/browser`).
 *
 * @example
 * if (!browserSupportsWebAuthn()) showMessage('This browser cannot use passkeys.');
 */
export function browserSupportsWebAuthn(): boolean {
  return supportsWebAuthn();
}

/**
 * Whether this browser can offer passkeys in input autofill (conditional mediation), i.e. whether
 * `signInWithAutofill()` can work (from `@simplewebauthn/browser`).
 *
 * @example
 * if (await browserSupportsWebAuthnAutofill()) void signInWithAutofill({ signal });
 */
export function browserSupportsWebAuthnAutofill(): Promise<boolean> {
  return supportsWebAuthnAutofill();
}
