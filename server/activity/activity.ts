import type { Kysely } from 'kysely';
import { listAuditEventsOfUser } from '../audit/repository.js';
import type { ActivityEvent } from '../contract/wire.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { AuthError } from '../errors.js';

/** An audit event as its user sees it in `GET /auth/activity`. */
export type { ActivityEvent };

export const defaultActivityLimit = 20;

/**
 * One page of the signed-in user's own events, newest first. `cursor` is the opaque `nextCursor` of
 * the previous page; `nextCursor` is `null` on the last page. A malformed cursor or limit is
 * `invalid_request`.
 */
export async function listActivity(
  db: Kysely<Database>,
  userId: string,
  query: { cursor?: string | undefined; limit?: string | undefined },
): Promise<{ events: ActivityEvent[]; nextCursor: string | null }> {
  const limit = parseLimit(query.limit);
  const before = query.cursor === undefined ? null : parseCursor(query.cursor);
  // One extra row tells whether another page follows.
  const rows = await listAuditEventsOfUser(db, userId, { before, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    events: page.map(toActivityEvent),
    nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
  };
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return defaultActivityLimit;
  // 1 to 100, digits only, checked by the contract's schema (activityQuery).
  return Number(raw);
}

const maxCursorTime = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function encodeCursor(row: AuditEventRow): string {
  return Buffer.from(JSON.stringify([row.created_at.toISOString(), row.id])).toString('base64url');
}

function parseCursor(raw: string): { createdAt: Date; id: string } {
  const invalid = () => new AuthError('invalid_request', 'cursor is not one this server issued.');
  if (raw.length === 0 || raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 2) throw invalid();
  const [time, id] = value as unknown[];
  if (typeof time !== 'string' || typeof id !== 'string' || !uuidPattern.test(id)) throw invalid();
  const createdAt = new Date(time);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== time) throw invalid();
  // Only times an event can have: years 0000 or +275760 round-trip in JS but not through the database.
  if (createdAt.getTime() < 0 || createdAt.getTime() > maxCursorTime) throw invalid();
  return { createdAt, id };
}

function toActivityEvent(row: AuditEventRow): ActivityEvent {
  return {
    id: row.id,
    type: row.type,
    actor: row.actor,
    reason: row.reason,
    createdAt: row.created_at.toISOString(),
    sessionId: row.session_id,
    passkeyId: row.passkey_id,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    // Only the risk signals write it, with one of the three levels.
    risk: row.risk as ActivityEvent['risk'],
    details: typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : row.details,
  };
}
