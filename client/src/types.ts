/** A user as the server returns it. `username` is normalised (NFKC, lower case). */
export interface User {
  id: string;
  username: string;
  displayName: string;
}

/** The current session. Times are ISO 8601 strings in UTC. */
export interface Session {
  id: string;
  createdAt: string;
  expiresAt: string;
}

/** What `getSession()` resolves to when signed in. */
export interface SessionInfo {
  user: User;
  session: Session;
  /**
   * True for the restricted session of an account recovery (a recovery code), which may only add a
   * passkey (`addPasskey()`) or sign out.
   */
  restricted: boolean;
}
