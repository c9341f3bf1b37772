import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
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
  const row = await db
    .insertInto('audit_event')
    .values({
      id: randomUUID(),
      user_id: event.userId ?? null,
      type: event.type,
      actor: event.actor ?? 'user',
      reason: event.reason ?? null,
      session_id: event.sessionId ?? null,
      passkey_id: event.passkeyId ?? null,
      ip_address: event.ipAddress ?? null,
      user_agent: event.userAgent ?? null,
      risk: event.risk ?? null,
      details: JSON.stringify(event.details ?? {}),
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
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

/** Failed sign-ins attributed to a user since `since` (by the partial index on `login_failed`). */
export async function countRecentLoginFailuresOfUser(
  db: Kysely<Database>,
  userId: string,
  since: Date,
): Promise<number> {
  const row = await db
    .selectFrom('audit_event')
    .select((eb) => eb.fn.countAll<string | number>().as('count'))
    .where('type', '=', 'login_failed')
    .where('user_id', '=', userId)
    .where('created_at', '>', since)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

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
  let query = db
    .selectFrom('audit_event')
    .select(['ip_address', (eb) => eb.fn.countAll<string | number>().as('count')])
    .where('type', '=', 'login_failed')
    .where('created_at', '>', since)
    .where('ip_address', 'is not', null);
  if (patterns.length > 0)
    query = query.where((eb) => eb.or(patterns.map((p) => eb(sql<string>`lower(ip_address)`, 'like', p))));
  const rows = await query.groupBy('ip_address').orderBy('count', 'desc').limit(limit).execute();
  return rows.map((row) => ({ address: row.ip_address as string, count: Number(row.count) }));
}
