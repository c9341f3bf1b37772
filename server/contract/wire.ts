/**
 * The JSON the server sends and accepts, as TypeScript types: one type-only module that the server
 * (server/contract/schemas.ts checks each schema against its type, both ways, at compile time) and
 * the browser client (`import type` only) share. A field added to a schema without its type here is
 * a compile error in the contract; added here, it is one in the client wherever the client builds
 * that value, until handled. No runtime code, no imports but the error codes' type.
 */
import type { ErrorCode } from './error-codes.js';

/** Every non-2xx answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** A user as the server returns it. `username` is normalised (NFKC, lower case, trimmed). */
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
  /** Only present (and `true`) when a risk signal holds the session until a step-up (README "Risk signals"). */
  stepUpRequired?: true;
}

/** `GET /auth/session`. */
export interface SessionResponse {
  user: User;
  session: Session;
}

/** `GET /auth/session/status`: 200 whether signed in or not. */
export type SessionStatusResponse =
  | { signedIn: false }
  | { signedIn: true; restricted: boolean; user: User; session: Session };

/** What the risk signals say about a sign-in (`notice` of `POST /auth/login/verify`). */
export interface SignInNotice {
  newDevice: boolean;
  newNetwork: boolean;
  /** The browser family and OS the server read from the User-Agent. */
  device: { browser: string; os: string };
  risk: RiskLevel | null;
  signals: string[];
  stepUpRequired: boolean;
}

/** A risk level of the risk signals. */
export type RiskLevel = 'low' | 'medium' | 'high';

/** `POST /auth/register/verify` (201) and `POST /auth/login/verify` (200; `notice` only there). */
export interface SignedInResponse {
  user: User;
  notice?: SignInNotice;
}

/** One of the signed-in user's sessions (`GET /auth/sessions`). */
export interface SessionSummary {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  /** The earlier of the absolute expiry and the idle expiry. */
  expiresAt: string;
  userAgent: string | null;
  ipAddress: string | null;
  /** The credential ID (base64url) of the passkey that created the session, if it still exists. */
  passkeyId: string | null;
  /** True for a restricted session from a recovery code. */
  restricted: boolean;
  /** True for the session of this browser. */
  current: boolean;
}

/** `GET /auth/sessions`. */
export interface SessionListResponse {
  sessions: SessionSummary[];
}

/** `POST /auth/sessions/revoke-others`. */
export interface RevokedResponse {
  revoked: number;
}

/** `POST /auth/reauth/verify`. */
export interface ReauthResponse {
  verifiedAt: string;
}

/** One of the signed-in user's passkeys. */
export interface Passkey {
  /** The credential ID, base64url. */
  id: string;
  /** The user's own name for it, else its authenticator's name (from the AAGUID), else "Passkey". */
  name: string;
  /** True when `name` is the user's own. */
  customName: boolean;
  /** The authenticator's name from the AAGUID, or `null` when unknown. */
  authenticatorName: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
  deviceType: 'singleDevice' | 'multiDevice';
  transports: string[];
  aaguid: string;
}

/** What the browser needs for the WebAuthn Signal API (`signalAllAcceptedCredentials`, `signalCurrentUserDetails`). */
export interface AcceptedCredentials {
  rpId: string;
  /** The WebAuthn user handle, base64url (not the user's id). */
  userId: string;
  allAcceptedCredentialIds: string[];
  /** The username. */
  name: string;
  displayName: string;
}

/** `GET /auth/passkeys`. */
export interface PasskeyListResponse {
  passkeys: Passkey[];
  signal: AcceptedCredentials;
}

/** `POST /auth/passkeys/verify` (201) and `PATCH /auth/passkeys/:id`. */
export interface PasskeyResponse {
  passkey: Passkey;
}

/** `PATCH /auth/user`: the user, and what the browser needs for `signalCurrentUserDetails`. */
export interface UserUpdatedResponse {
  user: User;
  signal: { rpId: string; userId: string; name: string; displayName: string };
}

/** An audit event as its user sees it (`GET /auth/activity`). */
export interface ActivityEvent {
  id: string;
  /** `login_succeeded`, `passkey_added`, `session_revoked`, … */
  type: string;
  /** Who made the change: `user`, `admin` or `system`. */
  actor: string;
  /** For failures: the error code. */
  reason: string | null;
  createdAt: string;
  sessionId: string | null;
  /** The credential ID (base64url) of the passkey involved, if any. */
  passkeyId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  /** The risk assessed for the event (README "Risk signals"), else null. */
  risk: RiskLevel | null;
  details: Record<string, unknown>;
}

/** `GET /auth/activity`: a page, newest first; `nextCursor` is `null` on the last page. */
export interface ActivityPage {
  events: ActivityEvent[];
  nextCursor: string | null;
}

/** `GET /auth/recovery-codes`. */
export interface RecoveryCodeStatus {
  remaining: number;
  /** When the current set was created, or `null` if there is none. */
  createdAt: string | null;
}

/** `POST /auth/recovery-codes` (201): the new codes, shown once. */
export interface RecoveryCodesResponse {
  codes: string[];
  remaining: number;
  createdAt: string;
}

/** `POST /auth/recover`: a restricted session that may only add a passkey or sign out. */
export interface RecoveredResponse {
  user: User;
  session: { id: string; createdAt: string; expiresAt: string; restricted: true };
  remaining: number;
}

/** `POST /auth/token`. */
export interface AccessTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** A public signing key of `GET /.well-known/jwks.json`. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
}

/** `GET /.well-known/jwks.json`. */
export interface JwksResponse {
  keys: PublicJwk[];
}

/** `POST /auth/introspect` (RFC 7662). */
export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      sub: string;
      sid: string;
      username: string;
      iss: string;
      aud: string | string[];
      iat: number;
      exp: number;
      jti: string;
      token_type: 'Bearer';
    };

/** `GET /healthz`. */
export interface HealthResponse {
  status: 'ok';
}

/** `POST /auth/register/options`. */
export interface RegisterOptionsRequest {
  username: string;
  displayName?: string | null;
}

/** `POST /auth/login/options` (the username changes nothing in the answer). */
export interface LoginOptionsRequest {
  username?: string;
}

/** `PATCH /auth/passkeys/:id`: `null` resets the name to the authenticator's. */
export interface RenamePasskeyRequest {
  name: string | null;
}

/** `PATCH /auth/user`: `null` or empty resets the display name to the username. */
export interface UpdateUserRequest {
  displayName: string | null;
}

/** `POST /auth/recover`. */
export interface RecoverRequest {
  username: string;
  code: string;
}

/** `POST /auth/introspect`, as JSON or form fields. */
export interface IntrospectionRequest {
  token: string;
}

/** The query of `GET /auth/activity`. */
export interface ActivityQuery {
  cursor?: string;
  limit?: string;
}
