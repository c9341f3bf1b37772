import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { fixedQuery } from '../db/fixed-query.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { afterCommit } from '../db/transaction.js';
import { outboxEntryOf } from '../events/outbox.js';
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
// The audit row and, for a security-relevant event, its webhook outbox row in one statement: atomic
// on its own (no transaction needed), one round trip.
const insertAuditEventSql = `/* prepared:insert_audit_event_v2 */
with audit as (
  insert into audit_event (id, user_id, type, actor, reason, session_id, passkey_id, ip_address, user_agent, risk, details, created_at)
  values ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::timestamptz) returning *
), outbox as (
  insert into event_outbox (id, type, user_id, body, occurred_at, next_attempt_at)
  select $1::uuid, $13::text, $2::uuid, $14::text, $12::timestamptz, $12::timestamptz where $13::text is not null
)
select * from audit`;

/**
 * Appends one event to the audit trail. Pass the transaction of the change it records, so that the
 * event exists if and only if the change does. Never put a secret, token or challenge in it.
 * A security-relevant event (server/events/types.ts) also goes to the webhook outbox, in the same
 * statement.
 */
export async function recordAuditEvent(db: Kysely<Database>, event: NewAuditEvent, now: Date): Promise<AuditEventRow> {
  const recorded: AuditEventRow = {
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
    details: event.details ?? {},
    created_at: now,
  };
  const outbox = outboxEntryOf(recorded);
  const [row] = await fixedQuery<AuditEventRow>(db, insertAuditEventSql, [
    recorded.id,
    recorded.user_id,
    recorded.type,
    recorded.actor,
    recorded.reason,
    recorded.session_id,
    recorded.passkey_id,
    recorded.ip_address,
    recorded.user_agent,
    recorded.risk,
    JSON.stringify(recorded.details),
    now.toISOString(),
    outbox?.type ?? null,
    outbox?.body ?? null,
  ]);
  if (row === undefined) throw new Error('insert into audit_event returned no row');
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
