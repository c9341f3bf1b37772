import { type Kysely, sql } from 'kysely';
import { fixedQuery, fixedRead } from '../db/fixed-query.js';
import type { Database, SessionKind, SessionRow } from '../db/schema.js';
import type { StoredSessionContext } from '../risk/session-context.js';
import type { LiveAt } from './lifetime.js';

/**
 * The one live-session predicate: not revoked, not past the absolute expiry, seen after the idle
 * cut-off. (The hot path below states it as fixed SQL text, for its prepared statement.)
 */
function isLive(at: LiveAt) {
  return sql<boolean>`session.revoked_at is null and session.expires_at > ${at.now} and session.last_seen_at > ${at.idleCutoff}`;
}

/** The risk-signal columns (server/risk/), which a new session may leave at their defaults. */
type SessionRiskColumns =
  | 'context_user_agent'
  | 'context_browser'
  | 'context_os'
  | 'networks'
  | 'suspect_at'
  | 'step_up_required_at';

/** The device-binding columns (server/dbsc/), which a new session leaves empty. */
type SessionDbscColumns =
  | 'dbsc_public_key'
  | 'dbsc_challenge'
  | 'dbsc_challenge_expires_at'
  | 'dbsc_authorization'
  | 'dbsc_cookie_hash'
  | 'dbsc_cookie_expires_at';

export type NewSessionRow = Omit<
  SessionRow,
  'revoked_at' | 'kind' | 'previous_secret_hash' | 'secret_rotated_at' | SessionRiskColumns | SessionDbscColumns
> & {
  kind?: SessionKind;
} & Partial<Pick<SessionRow, SessionRiskColumns>>;

// On every sign-in: fixed SQL, a named prepared statement on PostgreSQL (server/db/fixed-query.ts).
const insertSessionSql = `/* prepared:insert_session_v1 */
insert into session (id, secret_hash, user_id, passkey_id, created_at, last_seen_at, expires_at, verified_at,
  user_agent, ip_address, kind, context_user_agent, context_browser, context_os, networks, suspect_at, step_up_required_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`;

/** Inserts a session; the columns a new session may leave out get the table's defaults. */
export async function insertSession(db: Kysely<Database>, row: NewSessionRow): Promise<void> {
  await fixedQuery(db, insertSessionSql, [
    row.id,
    row.secret_hash,
    row.user_id,
    row.passkey_id,
    row.created_at.toISOString(),
    row.last_seen_at.toISOString(),
    row.expires_at.toISOString(),
    row.verified_at.toISOString(),
    row.user_agent,
    row.ip_address,
    row.kind ?? 'full',
    row.context_user_agent ?? '',
    row.context_browser ?? null,
    row.context_os ?? null,
    row.networks ?? [],
    row.suspect_at?.toISOString() ?? null,
    row.step_up_required_at?.toISOString() ?? null,
  ]);
}

export interface ActiveSessionRow {
  id: string;
  secret_hash: Uint8Array;
  user_id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  verified_at: Date;
  kind: SessionKind;
  previous_secret_hash: Uint8Array | null;
  secret_rotated_at: Date | null;
  username: string;
  display_name: string;
  /**
   * The session's trusted context and risk state (server/risk/session-context.ts), or `null` when
   * the request's context is the session's and no step-up is pending (compared in the query).
   */
  context: StoredSessionContext | null;
}

/** The request's side of the context comparison {@link findActiveSession} makes in SQL. */
export interface LookupContext {
  /** The request's `User-Agent`, `''` when none was sent. */
  userAgent: string;
  /** The request's network (server/net/network.ts), `null` when its address is unknown. */
  network: string | null;
}

// The session hot path, as fixed SQL: no query building per request, and a named prepared
// statement on PostgreSQL (the `/* prepared:… */` marker, see server/db/database.ts), so the server
// plans it once per connection. The row is one JSON array: `pg` sets up a parser and a property per
// column of every result it reads, so twelve columns cost it more than parsing one short JSON text.
// Times come back as epoch milliseconds, cheaper to read than timestamp text, and the hashes as hex.
// The session's trusted context comes back (as a nested array) only when the request's differs from
// it (the same test as assessSessionContext's: the same User-Agent, a known network or none) or a
// step-up is pending; otherwise it is null and nothing about it is parsed.
const activeSessionSql = `/* prepared:find_active_session_v3 */
select json_build_array(s.secret_hash, s.user_id, s.kind, s.previous_secret_hash, u.username, u.display_name,
  extract(epoch from s.created_at)::float8 * 1000,
  extract(epoch from s.last_seen_at)::float8 * 1000,
  extract(epoch from s.expires_at)::float8 * 1000,
  extract(epoch from s.verified_at)::float8 * 1000,
  extract(epoch from s.secret_rotated_at)::float8 * 1000,
  case when s.step_up_required_at is null and s.context_user_agent = $4::text
      and ($5::text is null or $5::text = any(s.networks)) then null
    else json_build_array(s.context_user_agent, s.context_browser, s.context_os, s.networks,
      extract(epoch from s.suspect_at)::float8 * 1000, extract(epoch from s.step_up_required_at)::float8 * 1000)
  end) as session
from session s join app_user u on u.id = s.user_id
where s.id = $1 and s.revoked_at is null and s.expires_at > $2 and s.last_seen_at > $3 and u.disabled_at is null`;

/** [user agent, browser, os, networks, suspect ms, step-up ms] */
type StoredContextJson = [string, string | null, string | null, string[], number | null, number | null];

/**
 * The lookup's one column: [secret hash, user id, kind, previous secret hash, username, display name,
 * created, last seen, expires, verified, secret rotated (ms), context]; the hashes as `\x`-prefixed
 * hex. Text on a driver that does not parse json.
 */
type ActiveSessionJson = [
  string,
  string,
  SessionKind,
  string | null,
  string,
  string,
  number,
  number,
  number,
  number,
  number | null,
  StoredContextJson | null,
];

const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** A bytea as json_build_array writes it (`\x` and hex digits). */
const bytesOfHex = (hex: string): Uint8Array => Buffer.from(hex.slice(2), 'hex');

function storedContextOf(value: StoredContextJson): StoredSessionContext {
  const [userAgent, browser, os, networks, suspectMs, stepUpMs] = value;
  return { userAgent, browser, os, networks, suspectAt: dateOrNull(suspectMs), stepUpRequiredAt: dateOrNull(stepUpMs) };
}

/**
 * The session hot path: one indexed round trip that returns the live session and its user together,
 * or `null`. Time comes from the caller, so tests can move it. With the request's `current` context,
 * the session's own comes back only when it differs (`context: null` otherwise); without, always.
 */
export async function findActiveSession(
  db: Kysely<Database>,
  id: string,
  at: LiveAt,
  current: LookupContext | null = null,
): Promise<ActiveSessionRow | null> {
  // Times as ISO text: what the driver would send, without its slower local-time formatting.
  const rows = await fixedRead<{ session: ActiveSessionJson | string }>(db, activeSessionSql, [
    id,
    at.now.toISOString(),
    at.idleCutoff.toISOString(),
    current?.userAgent ?? null,
    current?.network ?? null,
  ]);
  const value = rows[0]?.session;
  if (value === undefined) return null;
  const [
    secretHash,
    userId,
    kind,
    previousSecretHash,
    username,
    displayName,
    createdMs,
    lastSeenMs,
    expiresMs,
    verifiedMs,
    secretRotatedMs,
    context,
  ] = typeof value === 'string' ? (JSON.parse(value) as ActiveSessionJson) : value;
  return {
    id,
    secret_hash: bytesOfHex(secretHash),
    user_id: userId,
    kind,
    previous_secret_hash: previousSecretHash === null ? null : bytesOfHex(previousSecretHash),
    username,
    display_name: displayName,
    created_at: new Date(createdMs),
    last_seen_at: new Date(lastSeenMs),
    expires_at: new Date(expiresMs),
    verified_at: new Date(verifiedMs),
    secret_rotated_at: dateOrNull(secretRotatedMs),
    context: context === null ? null : storedContextOf(context),
  };
}

const touchSessionSql = `/* prepared:touch_session_v1 */
update session set last_seen_at = $2 where id = $1 and revoked_at is null and last_seen_at < $2`;

/** Moves `last_seen_at` forward (at most once per `touchInterval`, see validateSessionToken): fixed SQL, prepared. */
export async function touchSession(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await fixedQuery(db, touchSessionSql, [id, now.toISOString()]);
}

/** Marks a session revoked; returns whether a live session was revoked. */
export async function revokeSessionById(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Records a fresh user verification (step-up) on a live session; `false` when it is revoked. */
export async function markSessionVerified(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ verified_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** A user's live sessions, newest first. */
export async function listLiveSessionsOfUser(db: Kysely<Database>, userId: string, at: LiveAt): Promise<SessionRow[]> {
  return db
    .selectFrom('session')
    .selectAll()
    .where('user_id', '=', userId)
    .where(isLive(at))
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
}

/**
 * Revokes one live session of one user; `false` (nothing changed) when the session is not that
 * user's, or not live, so another user's session id looks exactly like an unknown one.
 */
export async function revokeSessionOfUser(
  db: Kysely<Database>,
  userId: string,
  id: string,
  at: LiveAt,
): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ revoked_at: at.now })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where(isLive(at))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Revokes every live session of a user but one; returns the revoked ids. */
export async function revokeSessionsOfUserExcept(
  db: Kysely<Database>,
  userId: string,
  keepId: string,
  at: LiveAt,
): Promise<string[]> {
  const rows = await db
    .updateTable('session')
    .set({ revoked_at: at.now })
    .where('user_id', '=', userId)
    .where('id', '!=', keepId)
    .where(isLive(at))
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Revokes every not-yet-revoked session a passkey created; returns the revoked ids. */
export async function revokeSessionsOfPasskey(
  db: Kysely<Database>,
  credentialId: Uint8Array,
  now: Date,
): Promise<string[]> {
  const rows = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('passkey_id', '=', credentialId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Marks every not-yet-revoked session of a user revoked; returns their ids. Pass the caller's transaction. */
export async function revokeAllSessionsOfUser(db: Kysely<Database>, userId: string, now: Date): Promise<string[]> {
  const rows = await db
    .updateTable('session')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/**
 * Revokes a user's live sessions beyond the `keep` most recently used ones, never `exceptId` (the
 * new session); returns the revoked ids (`SESSION_LIMIT`). The user's row is locked first (a read
 * lock, the row is not written), so concurrent sign-ins of one user count each other's sessions
 * instead of each keeping one too many. Pass the caller's transaction.
 */
export async function revokeLeastRecentlyUsedSessions(
  db: Kysely<Database>,
  userId: string,
  options: { exceptId: string; keep: number },
  at: LiveAt,
): Promise<string[]> {
  const { exceptId, keep } = options;
  await db.selectFrom('app_user').select('id').where('id', '=', userId).forUpdate().execute();
  const rows = await db
    .updateTable('session')
    .set({ revoked_at: at.now })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('session')
        .select('id')
        .where('user_id', '=', userId)
        .where('id', '!=', exceptId)
        .where(isLive(at))
        .orderBy('last_seen_at', 'desc')
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .offset(keep),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/**
 * Whether session `sid` of user `sub` is live (and the user not disabled), and the user's name: one
 * indexed query, so a revocation shows at once (token introspection).
 */
export async function findLiveSessionOfToken(
  db: Kysely<Database>,
  sid: string,
  sub: string,
  at: LiveAt,
): Promise<{ username: string } | null> {
  return (
    (await db
      .selectFrom('session')
      .innerJoin('app_user', 'app_user.id', 'session.user_id')
      .select('app_user.username')
      .where('session.id', '=', sid)
      .where('session.user_id', '=', sub)
      .where(isLive(at))
      .where('app_user.disabled_at', 'is', null)
      .executeTakeFirst()) ?? null
  );
}

/** The number of live sessions of each user (of `userId` only, when given); users without any are absent. */
export async function countLiveSessionsByUser(
  db: Kysely<Database>,
  at: LiveAt,
  userId?: string,
): Promise<Map<string, number>> {
  let query = db
    .selectFrom('session')
    .select(['user_id', (eb) => eb.fn.countAll<string | number>().as('n')])
    .where(isLive(at))
    .groupBy('user_id');
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const rows = await query.execute();
  return new Map(rows.map((row) => [row.user_id, Number(row.n)]));
}

/** Which ended sessions {@link deleteEndedSessions} removes in one pass. */
export type EndedSessions = 'expired' | 'idle' | 'revoked';

/**
 * Deletes up to `batchSize` sessions that ended before `cutoff` (past their absolute expiry, idled out,
 * or revoked), for the sweep; returns how many. Each pass is served by an index (a single OR would
 * scan the whole table), and `FOR UPDATE SKIP LOCKED` lets concurrent sweeps take disjoint rows.
 */
export async function deleteEndedSessions(
  db: Kysely<Database>,
  condition: EndedSessions,
  cutoff: LiveAt,
  batchSize: number,
): Promise<number> {
  const result = await db
    .deleteFrom('session')
    .where('id', 'in', (eb) => {
      const candidates = eb.selectFrom('session').select('id');
      return (
        condition === 'expired'
          ? candidates.where('expires_at', '<=', cutoff.now)
          : condition === 'idle'
            ? candidates.where('last_seen_at', '<=', cutoff.idleCutoff)
            : candidates.where('revoked_at', 'is not', null).where('revoked_at', '<=', cutoff.now)
      )
        .limit(batchSize)
        .forUpdate()
        .skipLocked();
    })
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
