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
// The user's sign-in history (by `session_user_id_idx`) and the failed sign-ins of the account and
// of the network (by the partial index on `login_failed`), in one round trip; a count the policy
// turns off ($5, $7 false) is not run.
const signInFactsSql = `/* prepared:sign_in_facts_v1 */
select h.has_networks, h.seen_network, h.has_devices, h.seen_device,
  case when $5::boolean then (
    select count(*) from audit_event where type = 'login_failed' and user_id = $1::uuid and created_at > $6::timestamptz
  ) end as account_failures,
  case when $7::boolean then (
    select json_agg(json_build_array(f.ip_address, f.count)) from (
      select ip_address, count(*) as count from audit_event
      where type = 'login_failed' and created_at > $6::timestamptz and ip_address is not null
        and (cardinality($8::text[]) = 0 or lower(ip_address) like any($8::text[]))
      group by ip_address order by count desc limit $9::int
    ) f
  ) end as network_failures
from (
  select bool_or(cardinality(networks) > 0) as has_networks, bool_or($2::text = any(networks)) as seen_network,
    bool_or(context_browser is not null) as has_devices,
    bool_or(context_browser = $3::text and context_os = $4::text) as seen_device
  from session where user_id = $1::uuid
) h`;

/** What a sign-in is judged on (server/risk/sign-in.ts), as {@link findSignInFacts} reads it. */
export interface SignInFacts {
  history: SignInHistory;
  /** Failed sign-ins of the account since `since` (0 when not counted). */
  accountFailures: number;
  /**
   * Failed sign-ins since `since` per client address, for the addresses matching one of the `LIKE`
   * patterns, the busiest first, at most `limit` of them (none when not counted).
   */
  addressFailures: Array<{ address: string; count: number }>;
}

/**
 * The facts a sign-in is judged on, in one query: the user's sign-in history (does a session of
 * theirs know this network, this device), and the recent failed sign-ins of the account
 * (`countAccount`) and of the addresses matching `addressPatterns` (when given).
 */
export async function findSignInFacts(
  db: Kysely<Database>,
  input: {
    userId: string;
    network: string | null;
    device: DeviceContext;
    since: Date;
    countAccount: boolean;
    addressPatterns: string[] | null;
    addressLimit: number;
  },
): Promise<SignInFacts> {
  const [row] = await fixedQuery<{
    has_networks: boolean | null;
    seen_network: boolean | null;
    has_devices: boolean | null;
    seen_device: boolean | null;
    account_failures: string | number | null;
    network_failures: Array<[string, number]> | null;
  }>(db, signInFactsSql, [
    input.userId,
    input.network,
    input.device.browser,
    input.device.os,
    input.countAccount,
    input.since.toISOString(),
    input.addressPatterns !== null,
    input.addressPatterns ?? [],
    input.addressLimit,
  ]);
  return {
    history: {
      hasNetworks: row?.has_networks === true,
      seenNetwork: row?.seen_network === true,
      hasDevices: row?.has_devices === true,
      seenDevice: row?.seen_device === true,
    },
    accountFailures: Number(row?.account_failures ?? 0),
    addressFailures: (row?.network_failures ?? []).map(([address, count]) => ({ address, count: Number(count) })),
  };
}
