import {
  type AuthenticationResponseJSON,
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  sendSignal,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
} from '@simplewebauthn/browser';
import type { SignedInResponse, SignInNotice } from '../../server/contract/wire.js';
import { AuthClientError, errorFromWebAuthn, isAbortError } from './errors.js';
import { createRequester, type FetchLike, type Requester } from './http.js';
import type { Session, SessionInfo, User } from './types.js';

/** Options for {@link createAuthClient}. */
export interface AuthClientOptions {
  /** Origin (and optional path prefix) of the auth server; `''` (the default) means this page's origin. */
  baseUrl?: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: FetchLike;
}

/** Options for `register()`. */
export interface RegisterOptions {
  /** 3 to 64 characters after NFKC and lower-casing, no control characters. */
  username: string;
  /** At most 64 characters; the server defaults it to the username. */
  displayName?: string;
}

/** Options for `signInWithAutofill()`. */
export interface AutofillOptions {
  /** Abort to stop offering passkeys in autofill; the call then resolves `null`. */
  signal?: AbortSignal;
  /**
   * Called once the user has picked a passkey, while the server checks it: a page can show progress
   * and ignore other sign-in clicks until the call settles.
   */
  onPasskeyChosen?: () => void;
}

/**
 * The result of a successful registration or sign-in: the user, and `notice` when the server's
 * risk signals have something to say about this sign-in (a device or network this account has not
 * used before, a risk level, or a re-verification the session needs before anything else). Show it
 * to the user ("New sign-in from Firefox on Windows").
 */
export type SignedIn = SignedInResponse;

/** What the server says about a sign-in's risk signals (`notice` of `POST /auth/login/verify`). */
export type { SignInNotice };

/** A client bound to one auth server. Its methods do not use `this`, so they can be passed around. */
export interface AuthClient {
  /**
   * Create an account with a new passkey: asks the server for creation options, lets the browser
   * make the passkey, and sends it back. Resolves once the session cookie is set.
   *
   * @example
   * const { user } = await auth.register({ username: 'ann', displayName: 'Ann Lee' });
   */
  register(options: RegisterOptions): Promise<SignedIn>;
  /**
   * Sign in with the browser's passkey picker (modal). Cancels a pending autofill sign-in first,
   * since a page can run only one WebAuthn ceremony at a time.
   *
   * @example
   * const { user } = await auth.signIn();
   */
  signIn(): Promise<SignedIn>;
  /**
   * Offer passkeys in the autofill of an `<input autocomplete="username webauthn">` (conditional
   * mediation). Resolves `{ user }` once the user picks a passkey and the server accepts it.
   *
   * Resolves `null`, never rejects, when the wait is aborted: by `signal`, or because another
   * ceremony (`signIn()`, `register()`, another autofill) replaced it. Once the user has picked a
   * passkey the sign-in runs to its end. Rejects with an {@link AuthClientError} for other failures,
   * with code `unsupported` if the browser has no WebAuthn autofill.
   *
   * @example
   * const controller = new AbortController();
   * const result = await auth.signInWithAutofill({ signal: controller.signal });
   * if (result) showSignedIn(result.user);
   */
  signInWithAutofill(options?: AutofillOptions): Promise<SignedIn | null>;
  /**
   * Sign out: the server revokes the session and clears the cookie. Resolves also when there was
   * no session to end.
   *
   * @example
   * await auth.signOut();
   */
  signOut(): Promise<void>;
  /**
   * The current user and session, or `null` when not signed in. Asks `GET /auth/session/status`,
   * which answers 200 either way, so a signed-out page logs no failed request.
   *
   * @example
   * const current = await auth.getSession();
   * if (current) console.log(current.user.username, current.session.expiresAt);
   */
  getSession(): Promise<SessionInfo | null>;
}

// WebAuthnAbortService is one per page, so knowing which call owns the pending ceremony is too.
// Every call that is about to start a ceremony takes the next turn; an autofill sign-in only starts
// or cancels the browser's ceremony while its turn is the latest, so it never cancels a newer one.
let latestTurn = 0;

/**
 * Create a client for an auth server. Every request sends cookies (`credentials: 'include'`); for a
 * server on another origin, that server must allow it with CORS (and expose `Retry-After`).
 *
 * @example
 * const auth = createAuthClient({ baseUrl: 'https://auth.example.com' });
 * const current = await auth.getSession();
 */
export function createAuthClient({ baseUrl = '', fetch }: AuthClientOptions = {}): AuthClient {
  // Look the global up per call, so a fetch patched after import is used and `this` stays `window`.
  const fetchImpl: FetchLike = fetch ?? ((input, init) => globalThis.fetch(input, init));
  const request = createRequester(baseUrl, fetchImpl);

  return {
    async register({ username, displayName }) {
      requireWebAuthn();
      beginCeremony();
      const optionsJSON = (await request('POST', '/auth/register/options', {
        username,
        displayName,
      })) as PublicKeyCredentialCreationOptionsJSON;
      let response;
      try {
        response = await startRegistration({ optionsJSON });
      } catch (err) {
        throw errorFromWebAuthn(err);
      }
      return parseSignedIn(await request('POST', '/auth/register/verify', response));
    },

    async signIn() {
      requireWebAuthn();
      beginCeremony();
      const optionsJSON = (await request('POST', '/auth/login/options', {})) as PublicKeyCredentialRequestOptionsJSON;
      let response;
      try {
        response = await startAuthentication({ optionsJSON });
      } catch (err) {
        throw errorFromWebAuthn(err);
      }
      return verifyLogin(request, optionsJSON, response);
    },

    async signInWithAutofill({ signal, onPasskeyChosen } = {}) {
      if (signal?.aborted) return null;
      const turn = ++latestTurn;
      const isLatest = () => turn === latestTurn;
      if (!(await browserSupportsWebAuthnAutofill())) {
        throw new AuthClientError('unsupported', 'This browser does not offer passkeys in autofill');
      }
      if (signal?.aborted || !isLatest()) return null;

      let optionsJSON: PublicKeyCredentialRequestOptionsJSON;
      try {
        optionsJSON = (await request(
          'POST',
          '/auth/login/options',
          {},
          signal,
        )) as PublicKeyCredentialRequestOptionsJSON;
      } catch (err) {
        if (signal?.aborted) return null;
        throw err;
      }
      // A newer ceremony started while the options were on their way: starting ours would cancel it.
      if (signal?.aborted || !isLatest()) return null;

      const ceremony = startAuthentication({ optionsJSON, useBrowserAutofill: true });
      let ceremonyPending = true;
      // Also a rejection handler: a ceremony that fails after an abort is never an unhandled rejection.
      const done = () => {
        ceremonyPending = false;
      };
      ceremony.then(done, done);
      let onAbort = () => {};
      const aborted = new Promise<null>((resolve) => {
        onAbort = () => {
          resolve(null);
          if (!ceremonyPending || !isLatest()) return;
          WebAuthnAbortService.cancelCeremony();
          // startAuthentication() awaits this same check before it registers its abort signal;
          // cancelling again after it catches a ceremony that was only just starting.
          void browserSupportsWebAuthnAutofill().then(() => {
            if (ceremonyPending && isLatest()) WebAuthnAbortService.cancelCeremony();
          });
        };
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      let response: AuthenticationResponseJSON | null;
      try {
        response = await Promise.race([ceremony, aborted]);
      } catch (err) {
        if (isAbortError(err) || signal?.aborted) return null;
        throw errorFromWebAuthn(err);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      if (response === null) return null;
      onPasskeyChosen?.();
      return verifyLogin(request, optionsJSON, response);
    },

    async signOut() {
      try {
        await request('POST', '/auth/logout', {});
      } catch (err) {
        if (err instanceof AuthClientError && err.code === 'unauthenticated') return;
        throw err;
      }
    },

    async getSession() {
      // The status endpoint answers 200 when signed out too: no 401 in the browser's console.
      const body = await request('GET', '/auth/session/status');
      if (!isRecord(body) || typeof body.signedIn !== 'boolean') throw unexpectedAnswer();
      return body.signedIn ? parseSessionInfo(body) : null;
    },
  };
}

async function verifyLogin(
  request: Requester,
  optionsJSON: PublicKeyCredentialRequestOptionsJSON,
  response: AuthenticationResponseJSON,
): Promise<SignedIn> {
  try {
    return parseSignedIn(await request('POST', '/auth/login/verify', response));
  } catch (err) {
    if (err instanceof AuthClientError && err.code === 'unknown_credential') {
      // Tell the authenticator this passkey is gone here, so it stops offering it (WebAuthn L3
      // Signal API). Best effort: most browsers do not support it yet.
      sendSignal({
        signalName: 'unknownCredential',
        rpID: optionsJSON.rpId ?? globalThis.location.hostname,
        credentialID: response.id,
      }).catch(() => {});
    }
    throw err;
  }
}

/** Take the turn and end any pending ceremony (an autofill sign-in, say) right away. */
export function beginCeremony(): void {
  latestTurn++;
  WebAuthnAbortService.cancelCeremony();
}

function requireWebAuthn(): void {
  if (!browserSupportsWebAuthn()) {
    throw new AuthClientError('unsupported', 'This browser does not support passkeys');
  }
}

function parseSignedIn(body: unknown): SignedIn {
  if (!isRecord(body)) throw unexpectedAnswer();
  const notice = parseNotice(body.notice);
  return notice ? { user: parseUser(body.user), notice } : { user: parseUser(body.user) };
}

function parseNotice(value: unknown): SignInNotice | undefined {
  if (!isRecord(value)) return undefined;
  const device = isRecord(value.device) ? value.device : {};
  const risk = value.risk === 'low' || value.risk === 'medium' || value.risk === 'high' ? value.risk : null;
  return {
    newDevice: value.newDevice === true,
    newNetwork: value.newNetwork === true,
    device: {
      browser: typeof device.browser === 'string' ? device.browser : 'Unknown',
      os: typeof device.os === 'string' ? device.os : 'Unknown',
    },
    risk,
    signals: Array.isArray(value.signals) ? value.signals.filter((s): s is string => typeof s === 'string') : [],
    stepUpRequired: value.stepUpRequired === true,
  };
}

function parseSessionInfo(body: unknown): SessionInfo {
  if (!isRecord(body)) throw unexpectedAnswer();
  return { user: parseUser(body.user), session: parseSession(body.session), restricted: body.restricted === true };
}

function parseUser(value: unknown): User {
  if (
    !isRecord(value) ||
    typeof value.id !== 'string' ||
    typeof value.username !== 'string' ||
    typeof value.displayName !== 'string'
  ) {
    throw unexpectedAnswer();
  }
  return { id: value.id, username: value.username, displayName: value.displayName };
}

function parseSession(value: unknown): Session {
  if (
    !isRecord(value) ||
    typeof value.id !== 'string' ||
    typeof value.createdAt !== 'string' ||
    typeof value.expiresAt !== 'string'
  ) {
    throw unexpectedAnswer();
  }
  // `stepUpRequired` (only ever `true`) says a risk signal holds the session until a step-up.
  return {
    id: value.id,
    createdAt: value.createdAt,
    expiresAt: value.expiresAt,
    ...(value.stepUpRequired === true ? { stepUpRequired: true } : {}),
  };
}

function unexpectedAnswer(): AuthClientError {
  return new AuthClientError('internal', 'The server sent an answer of an unexpected shape');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
