import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** PostgreSQL `bigint` arrives as a string from `pg`; callers convert with Number(). */
type Int8 = ColumnType<string | number | bigint, number | bigint, number | bigint>;

export interface AppUserTable {
  id: string;
  webauthn_user_id: Uint8Array;
  username: string;
  display_name: string;
  created_at: Date;
  disabled_at: Date | null;
}

export interface PasskeyTable {
  credential_id: Uint8Array;
  user_id: string;
  public_key: Uint8Array;
  counter: Int8;
  transports: string[];
  aaguid: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  name: string | null;
  created_at: Date;
  last_used_at: Date | null;
  counter_regressed_at: Date | null;
}

export interface SessionTable {
  id: string;
  secret_hash: Uint8Array;
  user_id: string;
  passkey_id: Uint8Array | null;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  verified_at: Date;
  revoked_at: Date | null;
  user_agent: string | null;
  ip_address: string | null;
  /** `recovery`: the restricted session a recovery code buys (it may only add a passkey and sign out). */
  kind: Generated<SessionKind>;
  /** The secret before the last rotation (server/sessions/secret-rotation.ts), accepted for a short grace. */
  previous_secret_hash: Uint8Array | null;
  /** When the current secret was issued; `null` means at `created_at`. */
  secret_rotated_at: Date | null;
  /** Risk signals (server/risk/): the trusted User-Agent header (`''` for none) and its parsed family and OS. */
  context_user_agent: Generated<string>;
  context_browser: string | null;
  context_os: string | null;
  /** The client networks (IPv4 /24, IPv6 /48) the session has been used from, oldest first. */
  networks: Generated<string[]>;
  /** When another browser family or OS was seen; cleared by a passkey re-verification. */
  suspect_at: Date | null;
  /** When the session was told to pass a passkey re-verification before anything else. */
  step_up_required_at: Date | null;
  /** DBSC (server/dbsc/): the public JWK the session is bound to (JSON text), or null when unbound. */
  dbsc_public_key: string | null;
  /** The pending DBSC challenge (registration or refresh), single-use, and when it expires. */
  dbsc_challenge: string | null;
  dbsc_challenge_expires_at: Date | null;
  /** The `authorization` value the registration offer carried; the registration must echo it. */
  dbsc_authorization: string | null;
  /** SHA-256 of the current short-lived bound cookie, and its expiry. */
  dbsc_cookie_hash: Uint8Array | null;
  dbsc_cookie_expires_at: Date | null;
}

export type SessionKind = 'full' | 'recovery';

/** One unused recovery code: only SHA-256 of it. */
export interface RecoveryCodeTable {
  user_id: string;
  code_hash: Uint8Array;
  created_at: Date;
}

export type ChallengePurpose = 'registration' | 'authentication' | 'reauthentication' | 'passkey_registration';

export interface WebauthnChallengeTable {
  id: Uint8Array;
  purpose: ChallengePurpose;
  user_id: string | null;
  webauthn_user_id: Uint8Array | null;
  username: string | null;
  display_name: string | null;
  session_id: string | null;
  created_at: Date;
  expires_at: Date;
}

export interface AuditEventTable {
  id: string;
  user_id: string | null;
  type: string;
  actor: string;
  reason: string | null;
  session_id: string | null;
  passkey_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  risk: string | null;
  /** jsonb: written as a JSON string, read back parsed. */
  details: ColumnType<Record<string, unknown>, string, string>;
  created_at: Date;
}

/** A fixed-window rate-limit counter; `key` is SHA-256 of the limited address or identifier. */
export interface RateLimitTable {
  bucket: string;
  key: Uint8Array;
  hits: number;
  window_start: Date;
  expires_at: Date;
}

/** A key that signs access tokens (server/tokens/keys.ts); every instance shares the set. */
export interface SigningKeyTable {
  kid: string;
  alg: 'ES256' | 'EdDSA';
  /** jsonb: written as a JSON string, read back parsed. */
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  private_key: Uint8Array;
  private_key_encryption: 'none' | 'aes-256-gcm';
  created_at: Date;
  activates_at: Date;
  retires_at: Date | null;
}

/** A security event on its way to the webhook (server/events/outbox.ts). */
export interface EventOutboxTable {
  id: string;
  type: string;
  user_id: string | null;
  /** The exact JSON body every attempt sends. */
  body: string;
  occurred_at: Date;
  attempts: Generated<number>;
  next_attempt_at: Date;
  locked_until: Date | null;
  last_error: string | null;
  delivered_at: Date | null;
  failed_at: Date | null;
}

/** The Kysely view of the schema in migrations/. */
export interface Database {
  app_user: AppUserTable;
  passkey: PasskeyTable;
  session: SessionTable;
  webauthn_challenge: WebauthnChallengeTable;
  audit_event: AuditEventTable;
  recovery_code: RecoveryCodeTable;
  rate_limit: RateLimitTable;
  signing_key: SigningKeyTable;
  event_outbox: EventOutboxTable;
}

export type AppUserRow = Selectable<AppUserTable>;
export type PasskeyRow = Selectable<PasskeyTable>;
export type SessionRow = Selectable<SessionTable>;
export type ChallengeRow = Selectable<WebauthnChallengeTable>;
export type NewChallenge = Insertable<WebauthnChallengeTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
export type SigningKeyRow = Selectable<SigningKeyTable>;
export type EventOutboxRow = Selectable<EventOutboxTable>;
