import { type Kysely, sql } from 'kysely';
import type { AuditEventRow, Database, EventOutboxRow } from '../db/schema.js';
import { toSecurityEvent } from './types.js';

/**
 * The outbox row of the security event an audit event stands for (if any, see `securityEvents`):
 * its type and the exact JSON body every delivery attempt sends. `recordAuditEvent` writes it in the
 * same statement as the audit row, so the outbox row exists if and only if the audit row does.
 */
export function outboxEntryOf(event: AuditEventRow): { type: string; body: string } | null {
  const securityEvent = toSecurityEvent(event);
  if (!securityEvent) return null;
  return { type: securityEvent.type, body: JSON.stringify(securityEvent) };
}

/**
 * Takes up to `limit` due events for delivery: undelivered, not given up, due by `now`, and not
 * under another dispatcher's live lease. One statement, so one short transaction: the inner
 * `FOR UPDATE SKIP LOCKED` makes concurrent dispatchers take disjoint rows without waiting, and the
 * update leases them until `lockedUntil` and counts the attempt before anything is sent. A
 * dispatcher that dies keeps its rows only until the lease passes.
 */
export async function claimDueEvents(
  db: Kysely<Database>,
  now: Date,
  lockedUntil: Date,
  limit: number,
): Promise<EventOutboxRow[]> {
  return db
    .updateTable('event_outbox')
    .set((eb) => ({ locked_until: lockedUntil, attempts: eb('attempts', '+', 1) }))
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('event_outbox')
        .select('id')
        .where('delivered_at', 'is', null)
        .where('failed_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<=', now)]))
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
}

/** Records a 2xx answer. A late answer after the lease passed still counts: the event arrived. */
export async function markEventDelivered(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db
    .updateTable('event_outbox')
    .set({ delivered_at: now, locked_until: null, last_error: null })
    .where('id', '=', id)
    .where('delivered_at', 'is', null)
    .execute();
}

/**
 * Records a failed attempt (`error`, a short description): schedules the next one at `retryAt`, or
 * gives up (`failed_at`) when `retryAt` is null. Only for the claim that made the attempt (`attempts`
 * unchanged): if the lease ran out and another dispatcher took the row meanwhile, its newer state wins.
 */
export async function markEventFailed(
  db: Kysely<Database>,
  claimed: Pick<EventOutboxRow, 'id' | 'attempts'>,
  failure: { error: string; retryAt: Date | null },
  now: Date,
): Promise<void> {
  const { error, retryAt } = failure;
  await db
    .updateTable('event_outbox')
    .set(
      retryAt
        ? { next_attempt_at: retryAt, locked_until: null, last_error: error }
        : { failed_at: now, locked_until: null, last_error: error },
    )
    .where('id', '=', claimed.id)
    .where('attempts', '=', claimed.attempts)
    .where('delivered_at', 'is', null)
    .execute();
}

/**
 * Deletes delivered and given-up events that occurred before `cutoff`; with `undelivered`, also
 * those never delivered (when no webhook is configured, nobody will). Batched with SKIP LOCKED like
 * the sweep, so it is safe on several instances.
 */
export async function pruneOutbox(
  db: Kysely<Database>,
  cutoff: Date,
  { undelivered = false, batchSize = 500, maxBatches = 20 } = {},
): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const result = await db
      .deleteFrom('event_outbox')
      .where('id', 'in', (eb) => {
        let query = eb.selectFrom('event_outbox').select('id').where('occurred_at', '<', cutoff);
        if (!undelivered) query = query.where(sql<boolean>`(delivered_at is not null or failed_at is not null)`);
        return query.limit(batchSize).forUpdate().skipLocked();
      })
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}
