import { type Kysely, sql } from 'kysely';
import { fixedQuery } from '../db/fixed-query.js';
import type { Database } from '../db/schema.js';
import type { SignInHistory } from '../risk/sign-in.js';
import type { DeviceContext } from '../risk/user-agent.js';

/** How many networks a session remembers; past it, the oldest is forgotten. */
export const maxSessionNetworks = 32;

/** `networks` with `network` appended (the oldest dropped past {@link maxSessionNetworks}), in SQL. */
function appendNetwork(network: string) {
  return sql<string[]>`case when cardinality(networks) >= ${maxSessionNetworks}
    then array_append(networks[2:], ${network}::text) else array_append(networks, ${network}::text) end`;
}

/**
 * Adds a network to a live session's known networks, unless a concurrent request already did;
 * returns whether this call added it (so exactly one request records the change).
 */
export async function addSessionNetwork(db: Kysely<Database>, sessionId: string, network: string): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ networks: appendNetwork(network) })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where(sql<boolean>`not (${network}::text = any(networks))`)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Marks a live session suspect (and adds the network, if given) unless it already is; returns whether this call did. */
export async function markSessionSuspect(
  db: Kysely<Database>,
  sessionId: string,
  network: string | null,
  now: Date,
): Promise<boolean> {
  let query = db
    .updateTable('session')
    .set({ suspect_at: now })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where('suspect_at', 'is', null);
  if (network !== null)
    query = query.set({
      networks: sql<
        string[]
      >`case when ${network}::text = any(networks) then networks else ${appendNetwork(network)} end`,
    });
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Requires a passkey re-verification on a live session (and marks it suspect) unless one is already
 * required; returns whether this call required it.
 */
export async function requireSessionStepUp(db: Kysely<Database>, sessionId: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ step_up_required_at: now, suspect_at: sql<Date>`coalesce(suspect_at, ${now})` })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where('step_up_required_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * After a passkey re-verification: the request's context becomes the session's trusted one (its
 * User-Agent, family and OS; its network joins the known ones), and the suspect and step-up marks
 * are cleared.
 */
export async function trustSessionContext(
  db: Kysely<Database>,
  sessionId: string,
  context: { userAgent: string; device: DeviceContext; network: string | null },
): Promise<void> {
  let query = db
    .updateTable('session')
    .set({
      context_user_agent: context.userAgent,
      context_browser: context.device.browser,
      context_os: context.device.os,
      suspect_at: null,
      step_up_required_at: null,
    })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null);
  const { network } = context;
  if (network !== null)
    query = query.set({
      networks: sql<
        string[]
      >`case when ${network}::text = any(networks) then networks else ${appendNetwork(network)} end`,
    });
  await query.execute();
}

// On every sign-in: fixed SQL, a named prepared statement on PostgreSQL (server/db/fixed-query.ts).
const signInHistorySql = `/* prepared:sign_in_history_v1 */
select bool_or(cardinality(networks) > 0) as has_networks, bool_or($2::text = any(networks)) as seen_network,
  bool_or(context_browser is not null) as has_devices,
  bool_or(context_browser = $3::text and context_os = $4::text) as seen_device
from session where user_id = $1`;

/** One query over the user's sessions (by `session_user_id_idx`). */
export async function findSignInHistory(
  db: Kysely<Database>,
  userId: string,
  network: string | null,
  device: DeviceContext,
): Promise<SignInHistory> {
  const [row] = await fixedQuery<{
    has_networks: boolean | null;
    seen_network: boolean | null;
    has_devices: boolean | null;
    seen_device: boolean | null;
  }>(db, signInHistorySql, [userId, network, device.browser, device.os]);
  return {
    hasNetworks: row?.has_networks === true,
    seenNetwork: row?.seen_network === true,
    hasDevices: row?.has_devices === true,
    seenDevice: row?.seen_device === true,
  };
}
