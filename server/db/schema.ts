import type { ColumnType, Insertable, Selectable } from 'kysely';

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

/** The Kysely view of the schema in migrations/. */
export interface Database {
  app_user: AppUserTable;
  passkey: PasskeyTable;
  session: SessionTable;
  webauthn_challenge: WebauthnChallengeTable;
  audit_event: AuditEventTable;
}

export type AppUserRow = Selectable<AppUserTable>;
export type PasskeyRow = Selectable<PasskeyTable>;
export type SessionRow = Selectable<SessionTable>;
export type ChallengeRow = Selectable<WebauthnChallengeTable>;
export type NewChallenge = Insertable<WebauthnChallengeTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
