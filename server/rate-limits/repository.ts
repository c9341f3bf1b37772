import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The counter upsert: a new window starts at 1 when the row is absent or its window has passed,
 * otherwise the count goes up by one. Returns the count and the end of the current window.
 */
export async function hitCounter(
  db: Kysely<Database>,
  counter: { bucket: string; key: Uint8Array; windowSeconds: number },
  now: Date,
): Promise<{ hits: number; expiresAt: Date }> {
  const expiresAt = new Date(now.getTime() + counter.windowSeconds * 1000);
  const passed = sql<boolean>`rate_limit.expires_at <= ${now}`;
  const row = await db
    .insertInto('rate_limit')
    .values({ bucket: counter.bucket, key: counter.key, hits: 1, window_start: now, expires_at: expiresAt })
    .onConflict((oc) =>
      oc.columns(['bucket', 'key']).doUpdateSet({
        hits: sql<number>`case when ${passed} then 1 else least(rate_limit.hits + 1, 2000000000) end`,
        window_start: sql<Date>`case when ${passed} then excluded.window_start else rate_limit.window_start end`,
        expires_at: sql<Date>`case when ${passed} then excluded.expires_at else rate_limit.expires_at end`,
      }),
    )
    .returning(['hits', 'expires_at'])
    .executeTakeFirstOrThrow();
  return { hits: Number(row.hits), expiresAt: new Date(row.expires_at) };
}
