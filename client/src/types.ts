import type { SessionStatusResponse } from '../../server/contract/wire.js';

// The wire types are the server's contract (server/contract/wire.ts), imported as types only.
export type { Session, User } from '../../server/contract/wire.js';

/**
 * What `getSession()` resolves to when signed in: the signed-in answer of `GET /auth/session/status`.
 * `restricted` is true for the restricted session of an account recovery (a recovery code), which
 * may only add a passkey (`addPasskey()`) or sign out; `session.stepUpRequired` is true when a risk
 * signal holds the session until the user confirms with a passkey (`reauthenticate()`).
 */
export type SessionInfo = Omit<Extract<SessionStatusResponse, { signedIn: true }>, 'signedIn'>;
