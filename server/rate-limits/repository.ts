import type { Kysely } from 'kysely';
import { fixedQuery } from '../db/fixed-query.js';
import type { Database } from '../db/schema.js';

/** One counter to count a request against, and the count past which it refuses. */
export interface CounterHit {
  bucket: string;
  key: Uint8Array;
  windowSeconds: number;
  limit: number;
}

/**
 * The upsert of one counter: a new window starts at 1 when the row is absent or its window has
 * passed, otherwise the count goes up by one. `$1` is now; `source` supplies the row.
 */
function upsert(source: string): string {
  return `insert into rate_limit (bucket, key, hits, window_start, expires_at) ${source}
  on conflict (bucket, key) do update set
    hits = case when rate_limit.expires_at <= excluded.window_start then 1 else least(rate_limit.hits + 1, 2000000000) end,
    window_start = case when rate_limit.expires_at <= excluded.window_start then excluded.window_start else rate_limit.window_start end,
    expires_at = case when rate_limit.expires_at <= excluded.window_start then excluded.expires_at else rate_limit.expires_at end
  returning hits, (extract(epoch from expires_at) * 1000)::float8 as expires_ms`;
}

/**
 * Fixed SQL for a chain of `n` counters, one statement: counter i+1 is counted only when counter i
 * is within its limit (a refused request counts against nothing after the limit that refused it,
 * as separate upserts in that order would). Parameters: `$1` now, then per counter bucket, key,
 * window end and (but for the last) limit.
 */
function chainSql(n: number): string {
  const steps: string[] = [];
  const selects: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = 2 + i * 4;
    const row = `select $${p}::text, $${p + 1}::bytea, 1, $1::timestamptz, $${p + 2}::timestamptz`;
    const source = i === 0 ? row : `${row} where (select hits from c${i - 1}) <= $${p - 1}::int`;
    steps.push(`c${i} as (${upsert(source)})`);
    selects.push(`select ${i} as step, hits, expires_ms from c${i}`);
  }
  return `/* prepared:hit_counters_${n}_v1 */ with ${steps.join(',\n')}\n${selects.join(' union all ')}`;
}

const chains = new Map<number, string>();

/**
 * Counts a request against `counters` in order, in one statement, stopping after the first one
 * past its limit. Returns, per counter counted, its count and the end of its window.
 */
export async function hitCounters(
  db: Kysely<Database>,
  counters: CounterHit[],
  now: Date,
): Promise<Array<{ hits: number; expiresAt: Date }>> {
  let text = chains.get(counters.length);
  if (text === undefined) {
    text = chainSql(counters.length);
    chains.set(counters.length, text);
  }
  const parameters: unknown[] = [now.toISOString()];
  for (const [i, counter] of counters.entries()) {
    parameters.push(counter.bucket, counter.key, new Date(now.getTime() + counter.windowSeconds * 1000).toISOString());
    // A limit is a parameter only where a next counter depends on it.
    if (i < counters.length - 1) parameters.push(counter.limit);
  }
  const rows = await fixedQuery<{ step: number; hits: number; expires_ms: number }>(db, text, parameters);
  const results: Array<{ hits: number; expiresAt: Date }> = [];
  for (const row of rows)
    results[Number(row.step)] = { hits: Number(row.hits), expiresAt: new Date(Number(row.expires_ms)) };
  return results;
}
