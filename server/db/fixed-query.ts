import { setTimeout as sleep } from 'node:timers/promises';
import { CompiledQuery, type Kysely } from 'kysely';
import type pg from 'pg';
import type { PipelinedReads } from './pipelined-reads.js';
import type { Database } from './schema.js';
import { isRetryableTransactionError, type RetryStats, retryDelay } from './transaction.js';

type FixedQueryRunner = (sql: string, values: unknown[]) => Promise<unknown[]>;

// Keyed by the root database handle; a transaction (or PGlite) has none and goes through Kysely.
const runners = new WeakMap<object, FixedQueryRunner>();
// The pipelined read connections of a root handle, when it has them (PostgreSQL with prepared statements).
const readers = new WeakMap<object, PipelinedReads>();
// The lane of each pool, for the pool metrics (its idle clients are idle, though checked out).
const lanes = new WeakMap<pg.Pool, FixedQueryLane>();

/** Clients the pool has seen get one error listener from the lane, for while it holds them idle. */
const listening = new WeakSet<pg.PoolClient>();
const ignore = () => {};

/** A fixed query waiting for one of the lane's clients. */
interface Waiting {
  sql: string;
  values: unknown[];
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
  /** When it began to wait for a client (Date.now()), for the connection timeout. */
  since: number;
}

/**
 * The fixed queries' own share of the pool: clients kept checked out between fixed queries, so
 * that a session check costs one `client.query` and not a pool checkout and check-in too. `pg-pool`
 * pays, per checkout, a promise, a pending item, a `process.nextTick` and a `setTimeout` for the
 * connection timeout, and per check-in another `setTimeout` for the idle timeout, two events and a
 * closure: several microseconds of a check that costs about a hundred.
 *
 * The lane takes clients from the pool as it needs them, one per query in flight, up to `max - 1`,
 * so the pool always has one for a transaction; beyond that a query waits in the lane for the next
 * client to finish, at most the pool's connection timeout, as it would wait for the pool. A client
 * goes back to the pool when the pool has a caller waiting, when Kysely is about to check one out
 * and the pool has none idle ({@link yieldToPool}), and once a second when it went unused for a
 * whole second, so an idle server holds none for long and the pool's own idle timeout applies to
 * them again. A failed query hands its client back with the error, which the pool then closes, as
 * `pool.query` does.
 */
export class FixedQueryLane {
  private readonly idle: pg.PoolClient[] = [];
  private readonly waiting: Waiting[] = [];
  /** Clients checked out by the lane: idle, running a query, or being connected. */
  private held = 0;
  /** The fewest clients idle since the last sweep: that many went unused for a whole interval. */
  private lowWater = 0;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;
  /** Armed while queries wait: fails those waiting longer than the connection timeout. */
  private expiry: NodeJS.Timeout | undefined;
  private readonly waitMs: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limit = Math.max(1, (pool.options.max ?? 10) - 1),
    sweepMs = 1000,
  ) {
    this.sweeper = setInterval(() => this.sweep(), sweepMs);
    this.sweeper.unref();
    this.waitMs = pool.options.connectionTimeoutMillis ?? 0;
    lanes.set(pool, this);
  }

  /** Clients held idle by the lane. */
  get idleCount(): number {
    return this.idle.length;
  }

  query(sql: string, values: unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { sql, values, resolve, reject, since: 0 };
      const client = this.take();
      if (client !== undefined) this.run(client, waiting);
      else if (this.held < this.limit && !this.closed) this.connect(waiting);
      else {
        waiting.since = Date.now();
        this.waiting.push(waiting);
        if (this.waitMs > 0 && this.expiry === undefined) this.armExpiry();
      }
    });
  }

  /** Gives one idle client back to the pool when the pool has none idle, before Kysely checks one out. */
  yieldToPool(): void {
    if (this.pool.idleCount === 0) this.give(1);
  }

  /**
   * Gives every idle client back and keeps none from now on (before `pool.end()`, which waits for
   * them); a query still running gives its client back when it ends, and any waiting then runs on
   * a client of the pool's own.
   */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.expiry);
    this.give(this.idle.length);
  }

  private run(client: pg.PoolClient, query: Waiting): void {
    try {
      // The three-argument form: PreparingClient runs a marked statement by name without copying a config object.
      client.query(query.sql, query.values, (error: Error | undefined, result: pg.QueryResult) => {
        if (error) return this.failed(client, query, error);
        query.resolve(result.rows);
        if (this.closed || this.pool.waitingCount > 0) {
          this.held--;
          client.release();
          this.next();
          return;
        }
        const waiting = this.waiting.shift();
        if (waiting !== undefined) this.run(client, waiting);
        else this.idle.push(client);
      });
    } catch (error) {
      this.failed(client, query, error as Error);
    }
  }

  /** A failed query: its client goes back to the pool with the error (which closes it). */
  private failed(client: pg.PoolClient, query: Waiting, error: Error): void {
    this.held--;
    client.release(error);
    query.reject(error);
    this.next();
  }

  /** A new client from the pool for `query`. */
  private connect(query: Waiting): void {
    this.held++;
    this.pool.connect().then(
      (client) => {
        if (!listening.has(client)) {
          listening.add(client);
          // An idle client losing its connection must not crash the process (it is checked out, so
          // the pool's own listener is off); take() then finds it unusable.
          client.on('error', ignore);
        }
        this.run(client, query);
      },
      (error: unknown) => {
        this.held--;
        query.reject(error);
      },
    );
  }

  /** After a client went back to the pool: the next waiting query gets one of its own. */
  private next(): void {
    const waiting = this.waiting.shift();
    if (waiting === undefined) return;
    if (this.closed) {
      this.pool.query(waiting.sql, waiting.values).then((result) => waiting.resolve(result.rows), waiting.reject);
    } else this.connect(waiting);
  }

  /** Checks the waiting queries a few times per connection timeout while there are any. */
  private armExpiry(): void {
    this.expiry = setTimeout(
      () => {
        this.expiry = undefined;
        const cutoff = Date.now() - this.waitMs;
        // Oldest first: the expired ones are at the front.
        while (this.waiting.length > 0 && (this.waiting[0] as Waiting).since <= cutoff) {
          (this.waiting.shift() as Waiting).reject(new Error('timeout exceeded when trying to connect'));
        }
        if (this.waiting.length > 0) this.armExpiry();
      },
      Math.max(10, this.waitMs / 4),
    );
    this.expiry.unref();
  }

  private take(): pg.PoolClient | undefined {
    for (;;) {
      const client = this.idle.pop();
      if (client === undefined) return undefined;
      if (this.idle.length < this.lowWater) this.lowWater = this.idle.length;
      const state = client as unknown as { _queryable?: boolean; _ending?: boolean };
      if (state._queryable !== false && state._ending !== true) return client;
      this.held--;
      client.release(new Error('connection lost while idle'));
    }
  }

  /** Gives the `count` least recently used idle clients back to the pool. */
  private give(count: number): void {
    const given = this.idle.splice(0, count);
    this.held -= given.length;
    for (const client of given) client.release();
    this.lowWater = Math.min(this.lowWater, this.idle.length);
  }

  private sweep(): void {
    this.give(this.lowWater);
    this.lowWater = this.idle.length;
  }
}

/** The clients the fixed-query lane of `pool` holds idle (0 without one), for the metrics. */
export function laneIdleCount(pool: pg.Pool): number {
  return lanes.get(pool)?.idleCount ?? 0;
}

/**
 * Lets {@link fixedQuery} on `db` run straight on the `pg` pool through a {@link FixedQueryLane},
 * with none of Kysely's per-query connection provider and wrapper objects. A statement that fails
 * with a serialization failure or a deadlock is run again, as every single statement is
 * (retrying-dialect.ts). PGlite is not given one: its one connection is shared, and a query must
 * wait for a transaction in progress there, so it goes through its dialect's lock. The dialect
 * closes the lane before it ends the pool.
 */
export function runFixedQueriesOnLane(
  db: Kysely<Database>,
  lane: FixedQueryLane,
  stats: RetryStats,
  maxAttempts = 5,
  reads?: PipelinedReads,
): void {
  if (reads !== undefined) readers.set(db, reads);
  runners.set(db, async (sql, values) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await lane.query(sql, values);
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
 * Runs one fixed SQL statement (no query building) and returns its rows: on PostgreSQL on the
 * pool's fixed-query lane, as a named prepared statement when the SQL carries the `/* prepared:NAME *\/` marker
 * (database.ts); in a transaction or on PGlite through Kysely. For the per-request hot path only
 * (the session lookup and its touch).
 */
export async function fixedQuery<R>(db: Kysely<Database>, sql: string, values: unknown[]): Promise<R[]> {
  const runner = runners.get(db);
  if (runner !== undefined) return (await runner(sql, values)) as R[];
  return (await db.executeQuery<R>(CompiledQuery.raw(sql, values))).rows as R[];
}

/**
 * Runs one fixed read-only statement (a plain `select`: no write, no lock, no side effect) and
 * returns its rows: on PostgreSQL over the pipelined read connections when there are
 * (pipelined-reads.ts), else as {@link fixedQuery}. For the per-request session lookup.
 */
export async function fixedRead<R>(db: Kysely<Database>, sql: string, values: unknown[]): Promise<R[]> {
  const reads = readers.get(db);
  if (reads !== undefined) return (await reads.query(sql, values)) as R[];
  return fixedQuery<R>(db, sql, values);
}

/** The pipelined reads' counters of a root handle (reads sent, writes that carried them), or `null` without them. */
export function pipelinedReadStats(db: Kysely<Database>): { queries: number; writes: number } | null {
  return readers.get(db)?.stats ?? null;
}
