import path from 'node:path';
import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import { FixedQueryLane, runFixedQueriesOnLane } from './fixed-query.js';
import { PipelinedReads } from './pipelined-reads.js';
import { RetryingPostgresDialect } from './retrying-dialect.js';
import type { Database } from './schema.js';
import { attachRetryStats, type RetryStats } from './transaction.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** `'postgres'` for a server, `'pglite'` for the embedded database. */
  kind: 'postgres' | 'pglite';
  /** Closes the pool or the embedded database and releases the data-folder lock. */
  close(): Promise<void>;
  /** The data-folder lock, for the embedded database only. */
  lock?: DataDirLock;
  /** The connection pool, for PostgreSQL only (its sizes are exported as metrics). */
  pool?: pg.Pool;
}

export interface OpenDatabaseOptions {
  databaseUrl: string | null;
  dataDir: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /** How long to wait for a connection (new or from the pool) before answering 503, in ms. */
  connectTimeoutMs?: number;
  /** Bound on one statement, in ms: the server cancels it, and the client gives up shortly after. */
  statementTimeoutMs?: number;
  /** Named prepared statements for marked hot queries (default true; see {@link createPool}). */
  preparedStatements?: boolean;
  /** The session lookup over pipelined connections of its own (default: as `preparedStatements`). */
  pipelinedReads?: boolean;
}

const preparedMarker = /^\/\* prepared:([a-z0-9_]+) \*\//;

/**
 * A `pg` client that runs SQL beginning with `/* prepared:NAME *\/` as the named prepared statement
 * NAME: parsed and planned once per connection instead of at every call. Only fixed SQL carries the
 * marker (the session lookup), so the number of statements per connection stays small.
 */
class PreparingClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: overrides every overload of pg's query and passes them through unchanged.
  override query(...args: any[]): any {
    const [text, values, callback] = args;
    // (text, values) from Kysely's driver; (text, values, callback) from the fixed-query lane (fixed-query.ts).
    const plain = args.length === 2 || (args.length === 3 && typeof callback === 'function');
    if (plain && typeof text === 'string' && Array.isArray(values)) {
      const name = preparedMarker.exec(text)?.[1];
      if (name !== undefined && args.length === 3) {
        // The hot path (the lane): a Query made from the text and named after, which pg runs as
        // given. From a config object, pg would first copy it with its property descriptors, at a
        // few microseconds a query.
        const query = new pg.Query(text, values, callback);
        (query as pg.Query & { name: string }).name = name;
        return super.query(query);
      }
      if (name !== undefined) return super.query({ name, text, values });
    }
    // biome-ignore lint/suspicious/noExplicitAny: as above, the overloads pass through.
    return (super.query as (...a: any[]) => any)(...args);
  }
}

export interface PoolOptions {
  max?: number;
  preparedStatements?: boolean;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
}

/**
 * The PostgreSQL pool: bounded waits (an unreachable database answers 503 instead of hanging
 * requests), connection errors that cannot crash the process, and named prepared statements for
 * marked queries unless `preparedStatements` is false (PgBouncer before 1.21 in transaction mode).
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const statementTimeout = options.statementTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
    // The server cancels a statement running longer (it is sent as a startup parameter, which a
    // pooler must pass or ignore: PgBouncer's `ignore_startup_parameters`); the client gives up a
    // little later in case the server cannot be reached at all.
    statement_timeout: statementTimeout,
    query_timeout: statementTimeout + 1000,
    idleTimeoutMillis: 30_000,
    ...(options.preparedStatements === false ? {} : { Client: PreparingClient }),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor may a checked-out one: pg emits 'error' on the client as well as failing its query, and a
  // client in use has no pool listener, so without this an outage would kill the process.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/**
 * Kysely over a `pg` pool, with single statements retried after a serialization failure or
 * deadlock (retrying-dialect.ts); its counters are {@link retryStats}`(db)`. The hot path's fixed
 * statements run on the pool's fixed-query lane (fixed-query.ts), and its reads on two pipelined
 * connections of their own (pipelined-reads.ts) when `pipelinedReads` is set; by default when the
 * pool prepares statements: a pooler that cannot take prepared statements is not given pipelined
 * queries either unless asked.
 */
export function createPostgresKysely(pool: pg.Pool, options: { pipelinedReads?: boolean } = {}): Kysely<Database> {
  const stats: RetryStats = { transactionRetries: 0, statementRetries: 0, exhausted: 0 };
  const lane = new FixedQueryLane(pool);
  const Client = (pool.options as { Client?: typeof pg.Client }).Client;
  const reads =
    (options.pipelinedReads ?? Client === PreparingClient)
      ? new PipelinedReads({
          config: pool.options,
          Client,
          queryTimeoutMs: (pool.options as { query_timeout?: number }).query_timeout ?? 0,
        })
      : undefined;
  const dialect = new RetryingPostgresDialect({ pool }, stats, 5, {
    beforeAcquire: () => lane.yieldToPool(),
    beforeDestroy: async () => {
      lane.close();
      await reads?.close();
    },
  });
  const db = new Kysely<Database>({ dialect });
  attachRetryStats(db, stats);
  runFixedQueriesOnLane(db, lane, stats, 5, reads);
  return db;
}

// int8 (bigint) as a JS number: our counters fit in 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

/**
 * Opens PostgreSQL through a `pg` Pool when a URL is given, else embedded PGlite persisted under
 * `dataDir`. PGlite does not lock its folder itself, and a second process opening it silently loses
 * writes, so this takes an exclusive lock first and refuses a second opener.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = createPool(options.databaseUrl, {
      max: options.poolSize ?? 10,
      preparedStatements: options.preparedStatements ?? true,
      connectTimeoutMs: options.connectTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
    });
    const db = createPostgresKysely(pool, {
      pipelinedReads: options.pipelinedReads ?? options.preparedStatements ?? true,
    });
    return { db, kind: 'postgres', pool, close: () => db.destroy() };
  }
  const lock = await lockDataDir(options.dataDir);
  // The database files, the admin token and the key-encryption key are this user's alone: PGlite
  // creates its files 0666 less the umask, so files created from now on get no group/other bits.
  if (process.platform !== 'win32') process.umask(0o077);
  try {
    // Loaded only when used: a server on PostgreSQL does not carry PGlite's ~40 MB.
    const [{ PGlite }, { PGliteDialect }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('./pglite-dialect.js'),
    ]);
    const pglite = await PGlite.create(path.join(options.dataDir, 'pgdata'));
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    return {
      db,
      kind: 'pglite',
      lock,
      close: async () => {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
        await lock.release();
      },
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** True when the database answers a trivial query. */
export async function pingDatabase(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
