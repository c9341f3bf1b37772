import {
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  sendSignal,
  startAuthentication,
  startRegistration,
} from '@simplewebauthn/browser';
import type {
  AcceptedCredentials,
  ActivityEvent,
  ActivityPage,
  Passkey,
  RecoveredResponse,
  RecoveryCodeStatus,
  SessionSummary,
} from '../../server/contract/wire.js';
import { type AuthClientOptions, beginCeremony } from './client.js';
import { AuthClientError, errorFromWebAuthn } from './errors.js';
import { createRequester, type FetchLike, type Requester } from './http.js';
import type { User } from './types.js';

// The wire types are the server's contract (server/contract/wire.ts), imported as types only.
export type {
  ActivityEvent,
  ActivityPage,
  Passkey,
  RecoveryCodeStatus,
  SessionSummary,
} from '../../server/contract/wire.js';

/** Options for `getActivity()`. */
export interface ActivityOptions {
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** Events per page, 1 to 100 (default 20). */
  limit?: number;
}

/** The result of `recover()`: signed in with a restricted session that may only add a passkey. */
export type Recovered = Pick<RecoveredResponse, 'user' | 'remaining'>;

/** Account management for the signed-in user: sessions, passkeys, step-up, recovery, activity. */
export interface AccountClient {
  /**
   * The signed-in user's live sessions, newest first; `current` marks this browser's.
   *
   * @example
   * const sessions = await account.listSessions();
   * for (const s of sessions) console.log(s.userAgent, s.current ? '(this device)' : '');
   */
  listSessions(): Promise<SessionSummary[]>;
  /**
   * Ends one of the user's sessions at once. Ending the current one signs this browser out.
   *
   * @example
   * await account.revokeSession(session.id);
   */
  revokeSession(id: string): Promise<void>;
  /**
   * Signs out everywhere else: ends every session but this one. Asks for the passkey first when the
   * last verification is too old (step-up). Resolves the number of sessions ended.
   *
   * @example
   * const ended = await account.revokeOtherSessions();
   */
  revokeOtherSessions(): Promise<number>;
  /**
   * The user's passkeys, oldest first, with human names. Also tells the browser (Signal API, best
   * effort) which passkeys the server still accepts and the account's current name.
   *
   * @example
   * const passkeys = await account.listPasskeys();
   * console.log(passkeys.map((p) => p.name).join(', '));
   */
  listPasskeys(): Promise<Passkey[]>;
  /**
   * Creates another passkey for the signed-in user (or, in a recovery session, the passkey that
   * completes the recovery and turns it into a normal session). Asks for an existing passkey first
   * when needed (step-up).
   *
   * @example
   * const passkey = await account.addPasskey();
   * console.log('Added', passkey.name);
   */
  addPasskey(): Promise<Passkey>;
  /**
   * Renames a passkey (1 to 64 characters); `null` goes back to the authenticator's name.
   *
   * @example
   * await account.renamePasskey(passkey.id, 'Work laptop');
   */
  renamePasskey(id: string, name: string | null): Promise<Passkey>;
  /**
   * Deletes a passkey (not the only one: `last_passkey`), ends the sessions it created, and tells the
   * browser's passkey providers which passkeys are still valid (Signal API, where supported). Asks
   * for a passkey first when needed (step-up).
   *
   * @example
   * await account.deletePasskey(passkey.id);
   */
  deletePasskey(id: string): Promise<void>;
  /**
   * Step-up: confirms it is still the user with one of their passkeys (user verification required),
   * which lets sensitive actions through for the next few minutes. No new session.
   *
   * @example
   * const { verifiedAt } = await account.reauthenticate();
   */
  reauthenticate(): Promise<{ verifiedAt: string }>;
  /**
   * Creates 10 new single-use recovery codes, replacing any earlier ones. Show them once: the server
   * keeps only hashes. Asks for a passkey first when needed (step-up).
   *
   * @example
   * const codes = await account.createRecoveryCodes();
   * showOnce(codes.join('\n'));
   */
  createRecoveryCodes(): Promise<string[]>;
  /**
   * How many recovery codes the user has left.
   *
   * @example
   * const { remaining } = await account.getRecoveryCodeStatus();
   */
  getRecoveryCodeStatus(): Promise<RecoveryCodeStatus>;
  /**
   * Uses a recovery code: signs in with a restricted session that may only add a passkey (call
   * `addPasskey()` next) or sign out. Rejects with `verification_failed` for a wrong code.
   *
   * @example
   * await account.recover({ username: 'ann', code: '7k2m-q9xd-4fpa-hc3e' });
   * await account.addPasskey();
   */
  recover(options: { username: string; code: string }): Promise<Recovered>;
  /**
   * The user's own account activity, newest first, one page at a time.
   *
   * @example
   * let page = await account.getActivity({ limit: 20 });
   * if (page.nextCursor) page = await account.getActivity({ cursor: page.nextCursor });
   */
  getActivity(options?: ActivityOptions): Promise<ActivityPage>;
  /**
   * Changes the user's display name, and tells the browser's passkey providers (Signal API, where
   * supported) so that their passkey pickers show the new name.
   *
   * @example
   * const user = await account.updateDisplayName('Ann Lee');
   */
  updateDisplayName(displayName: string): Promise<User>;
}

/** Options for {@link createAccountClient}: those of `createAuthClient`, and a step-up hook. */
export interface AccountClientOptions extends AuthClientOptions {
  /**
   * Called when an action needs a fresh verification and the step-up passkey prompt is about to
   * open, so the page can say why ("Confirm it is you to continue").
   */
  onStepUp?: () => void;
}

/**
 * Create an account client for an auth server (same options as `createAuthClient`, plus `onStepUp`).
 *
 * @example
 * const account = createAccountClient({ baseUrl: 'https://auth.example.com' });
 * const passkeys = await account.listPasskeys();
 */
export function createAccountClient({ baseUrl = '', fetch, onStepUp }: AccountClientOptions = {}): AccountClient {
  const fetchImpl: FetchLike = fetch ?? ((input, init) => globalThis.fetch(input, init));
  const request = createRequester(baseUrl, fetchImpl);

  const reauthenticate = async (): Promise<{ verifiedAt: string }> => {
    beginCeremony();
    const optionsJSON = (await request('POST', '/auth/reauth/options', {})) as PublicKeyCredentialRequestOptionsJSON;
    let response;
    try {
      response = await startAuthentication({ optionsJSON });
    } catch (err) {
      throw errorFromWebAuthn(err);
    }
    const body = await request('POST', '/auth/reauth/verify', response);
    if (!isRecord(body) || typeof body.verifiedAt !== 'string') throw unexpectedAnswer();
    return { verifiedAt: body.verifiedAt };
  };

  /** Runs a step-up action; if the server wants a fresh verification, does the step-up and tries once more. */
  const withStepUp = async <T>(action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (err) {
      if (!(err instanceof AuthClientError) || err.code !== 'reauthentication_required') throw err;
      onStepUp?.();
      await reauthenticate();
      return action();
    }
  };

  return {
    async listSessions() {
      const body = await request('GET', '/auth/sessions');
      if (!isRecord(body) || !Array.isArray(body.sessions)) throw unexpectedAnswer();
      return body.sessions as SessionSummary[];
    },

    async revokeSession(id) {
      // Revoking another session is a step-up action (ending the current one is not).
      await withStepUp(() => request('DELETE', `/auth/sessions/${encodeURIComponent(id)}`));
    },

    async revokeOtherSessions() {
      const body = await withStepUp(() => request('POST', '/auth/sessions/revoke-others', {}));
      if (!isRecord(body) || typeof body.revoked !== 'number') throw unexpectedAnswer();
      return body.revoked;
    },

    async listPasskeys() {
      const { passkeys, signal } = await fetchPasskeys(request);
      if (signal) {
        // Keep the user's authenticators in step with this server (WebAuthn L3 Signal API), best
        // effort: the passkeys it still accepts, and the current name to show for the account.
        trySignal(() =>
          sendSignal({
            signalName: 'allAcceptedCredentials',
            rpID: signal.rpId,
            userID: signal.userId,
            allAcceptedCredentialIDs: signal.allAcceptedCredentialIds,
          }),
        );
        if (typeof signal.name === 'string' && typeof signal.displayName === 'string') {
          trySignal(() =>
            sendSignal({
              signalName: 'currentUserDetails',
              rpID: signal.rpId,
              userID: signal.userId,
              userName: signal.name as string,
              userDisplayName: signal.displayName as string,
            }),
          );
        }
      }
      return passkeys;
    },

    async addPasskey() {
      const optionsJSON = (await withStepUp(() =>
        request('POST', '/auth/passkeys/options', {}),
      )) as PublicKeyCredentialCreationOptionsJSON;
      beginCeremony();
      let response;
      try {
        response = await startRegistration({ optionsJSON });
      } catch (err) {
        throw errorFromWebAuthn(err);
      }
      const body = await request('POST', '/auth/passkeys/verify', response);
      if (!isRecord(body) || !isRecord(body.passkey)) throw unexpectedAnswer();
      return body.passkey as unknown as Passkey;
    },

    async renamePasskey(id, name) {
      const body = await request('PATCH', `/auth/passkeys/${encodeURIComponent(id)}`, { name });
      if (!isRecord(body) || !isRecord(body.passkey)) throw unexpectedAnswer();
      return body.passkey as unknown as Passkey;
    },

    async deletePasskey(id) {
      // Read the accepted list first: deleting the passkey that created this session ends the
      // session too, and then it could no longer be read.
      const { signal } = await fetchPasskeys(request);
      await withStepUp(() => request('DELETE', `/auth/passkeys/${encodeURIComponent(id)}`));
      if (signal) {
        trySignal(() =>
          sendSignal({
            signalName: 'allAcceptedCredentials',
            rpID: signal.rpId,
            userID: signal.userId,
            allAcceptedCredentialIDs: signal.allAcceptedCredentialIds.filter((credentialId) => credentialId !== id),
          }),
        );
      }
    },

    reauthenticate,

    async createRecoveryCodes() {
      const body = await withStepUp(() => request('POST', '/auth/recovery-codes', {}));
      if (!isRecord(body) || !Array.isArray(body.codes)) throw unexpectedAnswer();
      return body.codes as string[];
    },

    async getRecoveryCodeStatus() {
      const body = await request('GET', '/auth/recovery-codes');
      if (!isRecord(body) || typeof body.remaining !== 'number') throw unexpectedAnswer();
      return { remaining: body.remaining, createdAt: typeof body.createdAt === 'string' ? body.createdAt : null };
    },

    async recover({ username, code }) {
      const body = await request('POST', '/auth/recover', { username, code });
      if (!isRecord(body) || !isRecord(body.user) || typeof body.remaining !== 'number') throw unexpectedAnswer();
      return { user: body.user as unknown as User, remaining: body.remaining };
    },

    async getActivity({ cursor, limit } = {}) {
      const query = new URLSearchParams();
      if (cursor !== undefined) query.set('cursor', cursor);
      if (limit !== undefined) query.set('limit', String(limit));
      const text = query.toString();
      const suffix = text === '' ? '' : `?${text}`;
      const body = await request('GET', `/auth/activity${suffix}`);
      if (!isRecord(body) || !Array.isArray(body.events)) throw unexpectedAnswer();
      return {
        events: body.events as ActivityEvent[],
        nextCursor: typeof body.nextCursor === 'string' ? body.nextCursor : null,
      };
    },

    async updateDisplayName(displayName) {
      const body = await request('PATCH', '/auth/user', { displayName });
      if (!isRecord(body) || !isRecord(body.user)) throw unexpectedAnswer();
      const signal = body.signal;
      if (isRecord(signal) && typeof signal.rpId === 'string' && typeof signal.userId === 'string') {
        trySignal(() =>
          sendSignal({
            signalName: 'currentUserDetails',
            rpID: signal.rpId as string,
            userID: signal.userId as string,
            userName: String(signal.name),
            userDisplayName: String(signal.displayName),
          }),
        );
      }
      return body.user as unknown as User;
    },
  };
}

type SignalDetails = AcceptedCredentials;

async function fetchPasskeys(request: Requester): Promise<{ passkeys: Passkey[]; signal: SignalDetails | null }> {
  const body = await request('GET', '/auth/passkeys');
  if (!isRecord(body) || !Array.isArray(body.passkeys)) throw unexpectedAnswer();
  const signal = body.signal;
  const valid =
    isRecord(signal) &&
    typeof signal.rpId === 'string' &&
    typeof signal.userId === 'string' &&
    Array.isArray(signal.allAcceptedCredentialIds);
  return { passkeys: body.passkeys as Passkey[], signal: valid ? (signal as unknown as SignalDetails) : null };
}

/**
 * Sends a WebAuthn Signal API message, best effort: browsers without the API (most, for now), or
 * that refuse it, change nothing and raise nothing.
 */
function trySignal(send: () => Promise<unknown>): void {
  try {
    const PublicKeyCredential = (globalThis as { PublicKeyCredential?: unknown }).PublicKeyCredential;
    if (typeof PublicKeyCredential !== 'function') return;
    send().catch(() => {});
  } catch {
    // Feature detection failed in some unexpected way: the signal is optional.
  }
}

function unexpectedAnswer(): AuthClientError {
  return new AuthClientError('internal', 'The server sent an answer of an unexpected shape');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
