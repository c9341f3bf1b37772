import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditEventRow, Database } from '../db/schema.js';

export type NewAuditEvent = {
  type: string;
  userId?: string | null;
  actor?: 'user' | 'admin' | 'system';
  reason?: string | null;
  sessionId?: string | null;
  passkeyId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
  risk?: 'low' | 'medium' | 'high' | null;
  details?: Record<string, unknown>;
};

/**
 * Appends one event to the audit trail. Pass the transaction of the change it records, so that the
 * event exists if and only if the change does. Never put a secret, token or challenge in it.
 */
export async function recordAuditEvent(db: Kysely<Database>, event: NewAuditEvent, now: Date): Promise<AuditEventRow> {
  return db
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
}
