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
import {
  type ActivityOptions,
  type ActivityPage,
  createAccountClient,
  type Passkey,
  type Recovered,
  type RecoveryCodeStatus,
  type SessionSummary,
} from './account.js';
import { type AutofillOptions, createAuthClient, type RegisterOptions, type SignedIn } from './client.js';
import { clearAccessToken } from './tokens.js';
import type { SessionInfo, User } from './types.js';

export type {
  AccountClient,
  AccountClientOptions,
  ActivityEvent,
  ActivityOptions,
  ActivityPage,
  Passkey,
  Recovered,
  RecoveryCodeStatus,
  SessionSummary,
} from './account.js';
export { createAccountClient } from './account.js';
export type {
  AuthClient,
  AuthClientOptions,
  AutofillOptions,
  RegisterOptions,
  SignedIn,
  SignInNotice,
} from './client.js';
export { createAuthClient } from './client.js';
export type { AuthErrorCode, ClientErrorCode, DescribeErrorOptions, ServerErrorCode, UserAction } from './errors.js';
export { AuthClientError, describeError } from './errors.js';
export type { FetchLike } from './http.js';
export type { GetAccessTokenOptions, TokenClient, TokenClientOptions } from './tokens.js';
export { authFetch, clearAccessToken, createTokenClient, getAccessToken } from './tokens.js';
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
  // The access token in memory belongs to the session that ends here.
  return defaultClient.signOut().finally(clearAccessToken);
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

// Account management on this page's origin: the functions below use this one client.
const defaultAccount = createAccountClient();

/**
 * The signed-in user's live sessions, newest first; `current` marks this browser's.
 *
 * @example
 * import { listSessions } from '/auth-client.js';
 * const sessions = await listSessions();
 */
export function listSessions(): Promise<SessionSummary[]> {
  return defaultAccount.listSessions();
}

/**
 * Ends one of the user's sessions at once (by id; the current one signs this browser out).
 *
 * @example
 * import { revokeSession } from '/auth-client.js';
 * await revokeSession(sessionId);
 */
export function revokeSession(id: string): Promise<void> {
  return defaultAccount.revokeSession(id);
}

/**
 * Signs out everywhere else; asks for a passkey first when needed. Resolves the number ended.
 *
 * @example
 * import { revokeOtherSessions } from '/auth-client.js';
 * const ended = await revokeOtherSessions();
 */
export function revokeOtherSessions(): Promise<number> {
  return defaultAccount.revokeOtherSessions();
}

/**
 * The signed-in user's passkeys with human names (their own, else the authenticator's).
 *
 * @example
 * import { listPasskeys } from '/auth-client.js';
 * const passkeys = await listPasskeys();
 */
export function listPasskeys(): Promise<Passkey[]> {
  return defaultAccount.listPasskeys();
}

/**
 * Creates another passkey for the signed-in user (or completes an account recovery).
 *
 * @example
 * import { addPasskey } from '/auth-client.js';
 * const passkey = await addPasskey();
 */
export function addPasskey(): Promise<Passkey> {
  return defaultAccount.addPasskey();
}

/**
 * Renames a passkey (1 to 64 characters); `null` restores the authenticator's name.
 *
 * @example
 * import { renamePasskey } from '/auth-client.js';
 * await renamePasskey(passkey.id, 'Work laptop');
 */
export function renamePasskey(id: string, name: string | null): Promise<Passkey> {
  return defaultAccount.renamePasskey(id, name);
}

/**
 * Deletes a passkey, ends the sessions it created, and signals the still-accepted passkeys to the
 * browser where the Signal API exists.
 *
 * @example
 * import { deletePasskey } from '/auth-client.js';
 * await deletePasskey(passkey.id);
 */
export function deletePasskey(id: string): Promise<void> {
  return defaultAccount.deletePasskey(id);
}

/**
 * Step-up: confirms the user with one of their passkeys, without a new session.
 *
 * @example
 * import { reauthenticate } from '/auth-client.js';
 * await reauthenticate();
 */
export function reauthenticate(): Promise<{ verifiedAt: string }> {
  return defaultAccount.reauthenticate();
}

/**
 * Creates 10 new single-use recovery codes (replacing the old ones); show them once.
 *
 * @example
 * import { createRecoveryCodes } from '/auth-client.js';
 * const codes = await createRecoveryCodes();
 */
export function createRecoveryCodes(): Promise<string[]> {
  return defaultAccount.createRecoveryCodes();
}

/**
 * How many recovery codes the user has left.
 *
 * @example
 * import { getRecoveryCodeStatus } from '/auth-client.js';
 * const { remaining } = await getRecoveryCodeStatus();
 */
export function getRecoveryCodeStatus(): Promise<RecoveryCodeStatus> {
  return defaultAccount.getRecoveryCodeStatus();
}

/**
 * Uses a recovery code; the restricted session it opens may only add a passkey or sign out.
 *
 * @example
 * import { addPasskey, recover } from '/auth-client.js';
 * await recover({ username: 'ann', code: '7k2m-q9xd-4fpa-hc3e' });
 * await addPasskey();
 */
export function recover(options: { username: string; code: string }): Promise<Recovered> {
  return defaultAccount.recover(options);
}

/**
 * The signed-in user's own account activity, newest first, a page at a time.
 *
 * @example
 * import { getActivity } from '/auth-client.js';
 * const { events, nextCursor } = await getActivity({ limit: 20 });
 */
export function getActivity(options?: ActivityOptions): Promise<ActivityPage> {
  return defaultAccount.getActivity(options);
}

/**
 * Changes the display name and tells the browser's passkey providers (Signal API, where supported).
 *
 * @example
 * import { updateDisplayName } from '/auth-client.js';
 * const user = await updateDisplayName('Ann Lee');
 */
export function updateDisplayName(displayName: string): Promise<User> {
  return defaultAccount.updateDisplayName(displayName);
}
