import { type Kysely, sql } from 'kysely';
import type { AuditEventRow, Database } from '../db/schema.js';
import type { LiveAt } from '../sessions/lifetime.js';
import { countLiveSessionsByUser } from '../sessions/repository.js';

export interface UserSummaryRow {
  id: string;
  username: string;
  display_name: string;
  created_at: Date;
  disabled_at: Date | null;
  passkey_count: number;
  session_count: number;
}

/** Every user with their passkey count and live session count, oldest first. */
export async function listUsersWithCounts(
  db: Kysely<Database>,
  at: LiveAt,
  userId?: string,
): Promise<UserSummaryRow[]> {
  let query = db
    .selectFrom('app_user as u')
    .select(['u.id', 'u.username', 'u.display_name', 'u.created_at', 'u.disabled_at'])
    .select((eb) => [
      eb
        .selectFrom('passkey as p')
        .select(sql<string>`count(*)`.as('n'))
        .whereRef('p.user_id', '=', 'u.id')
        .as('passkey_count'),
    ])
    .orderBy('u.created_at')
    .orderBy('u.id');
  if (userId !== undefined) query = query.where('u.id', '=', userId);
  const [rows, sessions] = await Promise.all([query.execute(), countLiveSessionsByUser(db, at, userId)]);
  return rows.map((row) => ({
    ...row,
    passkey_count: Number(row.passkey_count ?? 0),
    session_count: sessions.get(row.id) ?? 0,
  }));
}

/** The user's most recent audit events, newest first. */
export async function listRecentEventsOfUser(
  db: Kysely<Database>,
  userId: string,
  limit: number,
): Promise<AuditEventRow[]> {
  return db
    .selectFrom('audit_event')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
