import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Whether session `sid` of user `sub` is live (not revoked, not expired, not idle, user not
 * disabled) and the user's name: one indexed query, so a revocation shows at once.
 */
export async function findLiveSessionOfToken(
  db: Kysely<Database>,
  sid: string,
  sub: string,
  now: Date,
  idleCutoff: Date,
): Promise<{ username: string } | null> {
  return (
    (await db
      .selectFrom('session')
      .innerJoin('app_user', 'app_user.id', 'session.user_id')
      .select('app_user.username')
      .where('session.id', '=', sid)
      .where('session.user_id', '=', sub)
      .where('session.revoked_at', 'is', null)
      .where('session.expires_at', '>', now)
      .where('session.last_seen_at', '>', idleCutoff)
      .where('app_user.disabled_at', 'is', null)
      .executeTakeFirst()) ?? null
  );
}
