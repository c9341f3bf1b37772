import { setTimeout as sleep } from 'node:timers/promises';
import { CompiledQuery, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from './schema.js';
import { isRetryableTransactionError, type RetryStats, retryDelay } from './transaction.js';

type FixedQueryRunner = (sql: string, values: unknown[]) => Promise<unknown[]>;

// Keyed by the root database handle; a transaction (or PGlite) has none and goes through Kysely.
const runners = new WeakMap<object, FixedQueryRunner>();

/**
 * Lets {@link fixedQuery} on `db` run straight on the `pg` pool: `pool.query` checks a client out
 * for the one statement and back in, which is all `pg` needs, with none of Kysely's per-query
 * connection provider and wrapper objects. A statement that fails with a serialization failure or a
 * deadlock is run again, as every single statement is (retrying-dialect.ts). PGlite is not given
 * one: its one connection is shared, and a query must wait for a transaction in progress there, so
 * it goes through its dialect's lock.
 */
export function runFixedQueriesOnPool(db: Kysely<Database>, pool: pg.Pool, stats: RetryStats, maxAttempts = 5): void {
  runners.set(db, async (sql, values) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await pool.query(sql, values)).rows;
      } catch (error) {
        if (!isRetryableTransactionError(error)) throw error;
        if (attempt >= maxAttempts) {
          stats.exhausted++;
          throw error;
        }
        stats.statementRetries++;
        await sleep(retryDelay(attempt, 5));
      }
    }
  });
}

/**
 * Runs one fixed SQL statement (no query building) and returns its rows: on PostgreSQL straight on
 * the pool, as a named prepared statement when the SQL carries the `/* prepared:NAME *\/` marker
 * (database.ts); in a transaction or on PGlite through Kysely. For the per-request hot path only
 * (the session lookup and its touch).
 */
export async function fixedQuery<R>(db: Kysely<Database>, sql: string, values: unknown[]): Promise<R[]> {
  const runner = runners.get(db);
  if (runner !== undefined) return (await runner(sql, values)) as R[];
  return (await db.executeQuery<R>(CompiledQuery.raw(sql, values))).rows as R[];
}
