import type { Kysely } from 'kysely';
import { sha256 } from '../crypto.js';
import { fixedQuery } from '../db/fixed-query.js';
import type { AppUserRow, ChallengePurpose, ChallengeRow, Database, NewChallenge, PasskeyRow } from '../db/schema.js';
import { AuthError } from '../errors.js';
import type { PasskeyWithOwner } from './repository.js';

// On every ceremony: fixed SQL, a named prepared statement on PostgreSQL (server/db/fixed-query.ts).
const storeChallengeSql = `/* prepared:store_challenge_v1 */
insert into webauthn_challenge (id, purpose, user_id, webauthn_user_id, username, display_name, session_id, created_at, expires_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

/**
 * Stores a challenge server side, keyed by the SHA-256 of its base64url text (what the browser
 * echoes in clientDataJSON), so any instance can finish a ceremony another began. It expires
 * `ttlSeconds` after `now`.
 */
export async function storeChallenge(
  db: Kysely<Database>,
  input: { challenge: string; values: Omit<NewChallenge, 'id' | 'created_at' | 'expires_at'>; ttlSeconds: number },
  now: Date,
): Promise<void> {
  const { challenge, values, ttlSeconds } = input;
  await fixedQuery(db, storeChallengeSql, [
    sha256(challenge),
    values.purpose,
    values.user_id ?? null,
    values.webauthn_user_id ?? null,
    values.username ?? null,
    values.display_name ?? null,
    values.session_id ?? null,
    now.toISOString(),
    new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
  ]);
}

/**
 * Consumes a challenge in one statement, before any verification: of concurrent submissions of one
 * response exactly one gets the row, and a failed attempt burns the challenge too. A challenge that
 * is unknown, expired, already used or issued for another purpose is `invalid_challenge`.
 */
export async function consumeChallenge(
  db: Kysely<Database>,
  challenge: string,
  purpose: ChallengePurpose,
  now: Date,
): Promise<ChallengeRow> {
  const row = await db
    .deleteFrom('webauthn_challenge')
    .where('id', '=', sha256(challenge))
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
  if (!row || row.purpose !== purpose) throw new AuthError('invalid_challenge');
  return row;
}

// The challenge consumed and the passkey it is answered with, read in one round trip: the delete
// runs whatever the credential, so a failed attempt still burns the challenge.
const consumeWithPasskeySql = `/* prepared:consume_challenge_with_passkey_v1 */
with consumed as (delete from webauthn_challenge where id = $1::bytea and expires_at > $2::timestamptz returning *)
select c.id as c_id, c.purpose as c_purpose, c.user_id as c_user_id, c.webauthn_user_id as c_webauthn_user_id,
  c.username as c_username, c.display_name as c_display_name, c.session_id as c_session_id,
  c.created_at as c_created_at, c.expires_at as c_expires_at,
  p.credential_id, p.user_id, p.public_key, p.counter, p.transports, p.aaguid, p.device_type, p.backed_up,
  p.name, p.created_at, p.last_used_at, p.counter_regressed_at,
  u.webauthn_user_id as owner_webauthn_user_id, u.username as owner_username, u.display_name as owner_display_name,
  u.created_at as owner_created_at, u.disabled_at as owner_disabled_at
from consumed c left join passkey p on p.credential_id = $3::bytea left join app_user u on u.id = p.user_id`;

type ConsumedWithPasskeyRow = { [K in keyof ChallengeRow as `c_${K}`]: ChallengeRow[K] } & {
  [K in keyof PasskeyRow]: PasskeyRow[K] | null;
} & {
  owner_webauthn_user_id: Uint8Array | null;
  owner_username: string | null;
  owner_display_name: string | null;
  owner_created_at: Date | null;
  owner_disabled_at: Date | null;
};

/**
 * {@link consumeChallenge} and the passkey with this credential ID and its owner, in one statement:
 * `invalid_challenge` as there, then `passkey: null` when the credential is unknown.
 */
export async function consumeChallengeWithPasskey(
  db: Kysely<Database>,
  input: { challenge: string; purpose: ChallengePurpose; credentialId: Uint8Array },
  now: Date,
): Promise<{ challenge: ChallengeRow; found: PasskeyWithOwner | null }> {
  const rows = await fixedQuery<ConsumedWithPasskeyRow>(db, consumeWithPasskeySql, [
    sha256(input.challenge),
    now.toISOString(),
    input.credentialId,
  ]);
  const row = rows[0];
  if (!row || row.c_purpose !== input.purpose) throw new AuthError('invalid_challenge');
  const challenge: ChallengeRow = {
    id: row.c_id,
    purpose: row.c_purpose,
    user_id: row.c_user_id,
    webauthn_user_id: row.c_webauthn_user_id,
    username: row.c_username,
    display_name: row.c_display_name,
    session_id: row.c_session_id,
    created_at: row.c_created_at,
    expires_at: row.c_expires_at,
  };
  if (row.credential_id === null || row.user_id === null || row.owner_webauthn_user_id === null)
    return { challenge, found: null };
  const passkey = {
    credential_id: row.credential_id,
    user_id: row.user_id,
    public_key: row.public_key,
    counter: row.counter,
    transports: row.transports,
    aaguid: row.aaguid,
    device_type: row.device_type,
    backed_up: row.backed_up,
    name: row.name,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    counter_regressed_at: row.counter_regressed_at,
  } as PasskeyRow;
  const owner: AppUserRow = {
    id: row.user_id,
    webauthn_user_id: row.owner_webauthn_user_id,
    username: row.owner_username as string,
    display_name: row.owner_display_name as string,
    created_at: row.owner_created_at as Date,
    disabled_at: row.owner_disabled_at,
  };
  return { challenge, found: { passkey, owner } };
}
