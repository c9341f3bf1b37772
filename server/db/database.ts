import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import type { Database } from './schema.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** `'postgres'` for a server, `'pglite'` for the embedded database. */
  kind: 'postgres' | 'pglite';
  /** Closes the pool or the embedded database and releases the data-folder lock. */
  close(): Promise<void>;
  /** The data-folder lock, for the embedded database only. */
  lock?: DataDirLock;
}

export interface OpenDatabaseOptions {
  databaseUrl: string | null;
  dataDir: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /** Named prepared statements for marked hot queries (default true; see {@link createPool}). */
  preparedStatements?: boolean;
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
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && args.length === 2) {
      const name = preparedMarker.exec(text)?.[1];
      if (name !== undefined) return super.query({ name, text, values });
    }
    // biome-ignore lint/suspicious/noExplicitAny: as above, the overloads pass through.
    return (super.query as (...a: any[]) => any)(...args);
  }
}

/**
 * The PostgreSQL pool: bounded waits (an unreachable database answers 503 instead of hanging
 * requests), connection errors that cannot crash the process, and named prepared statements for
 * marked queries unless `preparedStatements` is false (PgBouncer before 1.21 in transaction mode).
 */
export function createPool(url: string, options: { max?: number; preparedStatements?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
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

// int8 (bigint) as a JS number: our counters fit in 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

/**
 * Opens PostgreSQL through a `pg` Pool when a URL is given, else embedded PGlite persisted under
 * `dataDir`. PGlite does not lock its folder itself, and a second process opening it silently loses
 * writes, so this takes an exclusive lock first and refuses a second opener.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = createPool(options.databaseUrl, { max: options.poolSize ?? 10, preparedStatements: options.preparedStatements ?? true });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const lock = await lockDataDir(options.dataDir);
  // The database files, the admin token and the key-encryption key are this user's alone: PGlite
  // creates its files 0666 less the umask, so files created from now on get no group/other bits.
  if (process.platform !== 'win32') process.umask(0o077);
  try {
    // Loaded only when used: a server on PostgreSQL does not carry PGlite's ~40 MB.
    const [{ PGlite }, { PGliteDialect }] = await Promise.all([import('@electric-sql/pglite'), import('./pglite-dialect.js')]);
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
