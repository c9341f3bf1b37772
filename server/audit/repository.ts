import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { fixedQuery } from '../db/fixed-query.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { afterCommit, inTransaction } from '../db/transaction.js';
import { enqueueSecurityEvent } from '../events/outbox.js';
import { isSecurityEventType } from '../events/types.js';
import type { Actor, AuditEventType, RiskLevel } from './events.js';

// Observers of committed audit events (metrics), per root database handle.
const auditObservers = new WeakMap<object, Set<(event: AuditEventRow) => void>>();

/**
 * Calls `observer` with every audit event recorded through `db` once its transaction has committed
 * (events of a rolled-back or retried attempt are never seen). Returns a function that stops it.
 */
export function observeAuditEvents(db: Kysely<Database>, observer: (event: AuditEventRow) => void): () => void {
  let observers = auditObservers.get(db);
  if (!observers) {
    observers = new Set();
    auditObservers.set(db, observers);
  }
  observers.add(observer);
  return () => observers.delete(observer);
}

export type NewAuditEvent = {
  type: AuditEventType;
  userId?: string | null;
  actor?: Actor;
  reason?: string | null;
  sessionId?: string | null;
  passkeyId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
  risk?: RiskLevel | null;
  details?: Record<string, unknown>;
};

// On every sign-in: fixed SQL, a named prepared statement on PostgreSQL (server/db/fixed-query.ts).
const insertAuditEventSql = `/* prepared:insert_audit_event_v1 */
insert into audit_event (id, user_id, type, actor, reason, session_id, passkey_id, ip_address, user_agent, risk, details, created_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *`;

/**
 * Appends one event to the audit trail. Pass the transaction of the change it records, so that the
 * event exists if and only if the change does. Never put a secret, token or challenge in it.
 * A security-relevant event (server/events/types.ts) also goes to the webhook outbox, in the same
 * transaction.
 */
export async function recordAuditEvent(db: Kysely<Database>, event: NewAuditEvent, now: Date): Promise<AuditEventRow> {
  // The audit row and its outbox row commit together; a caller outside a transaction gets one here.
  if (!db.isTransaction && isSecurityEventType(event.type))
    return inTransaction(db, (trx) => recordAuditEvent(trx, event, now));
  const [row] = await fixedQuery<AuditEventRow>(db, insertAuditEventSql, [
    randomUUID(),
    event.userId ?? null,
    event.type,
    event.actor ?? 'user',
    event.reason ?? null,
    event.sessionId ?? null,
    event.passkeyId ?? null,
    event.ipAddress ?? null,
    event.userAgent ?? null,
    event.risk ?? null,
    JSON.stringify(event.details ?? {}),
    now.toISOString(),
  ]);
  if (row === undefined) throw new Error('insert into audit_event returned no row');
  await enqueueSecurityEvent(db, row);
  afterCommit(db, (root) => {
    for (const observer of auditObservers.get(root) ?? []) observer(row);
  });
  return row;
}

/**
 * One page of a user's events, newest first, by keyset: only events strictly before `before` in
 * (created_at, id) order, so pages stay stable while new events arrive.
 */
export async function listAuditEventsOfUser(
  db: Kysely<Database>,
  userId: string,
  options: { before: { createdAt: Date; id: string } | null; limit: number },
): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_event').selectAll().where('user_id', '=', userId);
  if (options.before) {
    const { createdAt, id } = options.before;
    query = query.where(sql<boolean>`(created_at, id) < (${createdAt}, ${id}::uuid)`);
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).execute();
}

const countLoginFailuresOfUserSql = `/* prepared:count_login_failures_of_user_v1 */
select count(*) as count from audit_event where type = 'login_failed' and user_id = $1 and created_at > $2`;

/** Failed sign-ins attributed to a user since `since` (by the partial index on `login_failed`). */
export async function countRecentLoginFailuresOfUser(
  db: Kysely<Database>,
  userId: string,
  since: Date,
): Promise<number> {
  const [row] = await fixedQuery<{ count: string | number }>(db, countLoginFailuresOfUserSql, [
    userId,
    since.toISOString(),
  ]);
  return Number(row?.count ?? 0);
}

const countLoginFailuresByAddressSql = `/* prepared:count_login_failures_by_address_v1 */
select ip_address, count(*) as count from audit_event
where type = 'login_failed' and created_at > $1 and ip_address is not null
  and (cardinality($2::text[]) = 0 or lower(ip_address) like any($2::text[]))
group by ip_address order by count desc limit $3`;

/**
 * Failed sign-ins since `since`, counted per client address, for the addresses matching one of the
 * `LIKE` patterns (all addresses when none are given). At most `limit` addresses, the busiest first.
 */
export async function countRecentLoginFailuresByAddress(
  db: Kysely<Database>,
  since: Date,
  patterns: string[],
  limit: number,
): Promise<Array<{ address: string; count: number }>> {
  const rows = await fixedQuery<{ ip_address: string; count: string | number }>(db, countLoginFailuresByAddressSql, [
    since.toISOString(),
    patterns,
    limit,
  ]);
  return rows.map((row) => ({ address: row.ip_address, count: Number(row.count) }));
}
