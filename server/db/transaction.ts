import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * SQLSTATEs after which a transaction (or a statement outside one) may simply run again: a
 * serialization failure (`40001`: PostgreSQL under SERIALIZABLE, CockroachDB and YugabyteDB
 * routinely) and a detected deadlock (`40P01`). The database has rolled the whole attempt back.
 */
const retryableCodes = new Set(['40001', '40P01']);

/** True when `error` (or one of its causes) is a serialization failure or a deadlock. */
export function isRetryableTransactionError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && retryableCodes.has(code)) return true;
  }
  return false;
}

/** How often transactions and single statements of one database handle were run again. */
export interface RetryStats {
  /** Whole transactions re-run after a serialization failure or deadlock. */
  transactionRetries: number;
  /** Single statements (outside a transaction) re-run after one (see retrying-dialect.ts). */
  statementRetries: number;
  /** Transactions or statements that still failed after the last attempt. */
  exhausted: number;
}

// Keyed by the database handle, so every app (and every test database) counts its own.
const statsByDb = new WeakMap<object, RetryStats>();

/** The retry counters of a database handle (the root `Kysely`, or the object given to the dialect). */
export function retryStats(db: object): RetryStats {
  let stats = statsByDb.get(db);
  if (!stats) {
    stats = { transactionRetries: 0, statementRetries: 0, exhausted: 0 };
    statsByDb.set(db, stats);
  }
  return stats;
}

/** Shares one counter object between the dialect (statement retries) and its `Kysely` handle. */
export function attachRetryStats(db: object, stats: RetryStats): void {
  statsByDb.set(db, stats);
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  maxAttempts?: number;
  /** The first pause before a new attempt, in ms; it doubles each time, with full jitter (default 5). */
  baseDelayMs?: number;
}

/** A pause with full jitter: uniformly in [0, base·2^(attempt-1)], capped at 250 ms. */
export function retryDelay(attempt: number, baseDelayMs: number): number {
  return Math.random() * Math.min(250, baseDelayMs * 2 ** (attempt - 1));
}

// The callbacks of each transaction that inTransaction runs, keyed by its `trx`.
const afterCommitCallbacks = new WeakMap<object, Array<(root: Kysely<Database>) => void>>();

/**
 * Runs `callback` once the transaction `db` has committed (with the root database handle), or at
 * once when `db` is not a transaction. A rolled-back or retried attempt never runs it: for counting
 * what really happened (metrics), never for anything the transaction's correctness depends on.
 */
export function afterCommit(db: Kysely<Database>, callback: (root: Kysely<Database>) => void): void {
  if (!db.isTransaction) callback(db);
  else afterCommitCallbacks.get(db)?.push(callback);
}

/**
 * Runs `fn` in a transaction, and runs the WHOLE transaction again (a bounded number of times, with
 * jittered backoff) when it fails with a serialization failure or deadlock. Every multi-statement
 * write goes through here, so nothing of a failed attempt survives: its rows are rolled back, and
 * everything outside the database (cookies, responses) happens only after this returns. `fn` must
 * therefore have no side effects outside `trx`.
 *
 * Called with a transaction (`db.isTransaction`), it runs `fn` in it: the outermost caller retries.
 */
export async function inTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Transaction<Database>) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<Database>);
  const { maxAttempts = 5, baseDelayMs = 5 } = options;
  for (let attempt = 1; ; attempt++) {
    const committed: Array<(root: Kysely<Database>) => void> = [];
    try {
      const result = await db.transaction().execute((trx) => {
        afterCommitCallbacks.set(trx, committed);
        return fn(trx);
      });
      for (const callback of committed) callback(db);
      return result;
    } catch (error) {
      if (!isRetryableTransactionError(error)) throw error;
      const stats = retryStats(db);
      if (attempt >= maxAttempts) {
        stats.exhausted++;
        throw error;
      }
      stats.transactionRetries++;
      await sleep(retryDelay(attempt, baseDelayMs));
    }
  }
}
