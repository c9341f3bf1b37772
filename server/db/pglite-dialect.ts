/**
 * A small Kysely dialect over an already created PGlite instance.
 *
 * Why not `kysely-pglite-dialect`: it pins `@electric-sql/pglite` to <= 0.4.
 *
 * Design notes
 * ------------
 * - PGlite is ONE Postgres session. Kysely, however, assumes a pool: every
 *   query acquires a connection, and a transaction keeps its connection from
 *   BEGIN to COMMIT/ROLLBACK. If two Kysely transactions interleaved on the
 *   single session, their statements would end up in the same Postgres
 *   transaction. So the driver hands out its one connection under an async
 *   FIFO mutex: `acquireConnection()` waits for the mutex and
 *   `releaseConnection()` frees it. A transaction therefore holds the mutex
 *   for its whole life, and concurrent transactions run one after another.
 *
 *   Pitfall: inside `db.transaction().execute(async (trx) => ...)`, use `trx`,
 *   never `db`. A query through `db` waits for the mutex held by the
 *   transaction itself and hangs forever.
 *
 *   Code that talks to the PGlite instance directly (bypassing Kysely) does
 *   not take this mutex and could run inside a Kysely transaction. Don't.
 *
 * - If a connection is released while the session is still inside a
 *   transaction (e.g. a raw `sql\`begin\`` run through `db.connection()`
 *   without a commit), the driver issues ROLLBACK before handing the session
 *   to the next caller, so the open transaction cannot leak into unrelated
 *   queries.
 *
 * - Query results: `pglite.query(sql, params, { rowMode: 'object' })` returns
 *   `{ rows, fields, command, affectedRows, rowCount }`. `numAffectedRows` is
 *   reported for INSERT / UPDATE / DELETE / MERGE (BigInt of `affectedRows`).
 *   COMMIT of a transaction that was already aborted by an error answers with
 *   command `ROLLBACK`; like Kysely's PostgresDriver we then throw Kysely's
 *   `AbortedTransactionError`.
 *
 * - Errors: Postgres errors are PGlite `DatabaseError` instances (an `Error`
 *   subclass with the same fields as `pg`'s DatabaseError: `code` (SQLSTATE,
 *   e.g. '23505'), `severity`, `detail`, `constraint`, `table`, `column`,
 *   `schema`, ...). They propagate unchanged, so `err.code === '23505'` works
 *   as with `pg`. PGlite additionally attaches `query`, `params` and
 *   `queryOptions`; `params` may hold secrets (tokens, emails), so the driver
 *   makes `params` and `queryOptions` non-enumerable: still readable for
 *   debugging, but not serialized by loggers (pino, JSON.stringify).
 *
 * - Type parsing differs from `pg`: int8/bigint (including `count(*)`)
 *   comes back as a JS number when it fits in a safe integer and as a BigInt
 *   otherwise (pg: string); bytea comes back as Uint8Array (pg: Buffer);
 *   numeric as string, timestamptz as Date, json/jsonb parsed (same as pg).
 *
 * - `destroy()` waits for the connection to be released, then closes the
 *   PGlite instance when `closeOnDestroy` is true (the DEFAULT: like
 *   PostgresDialect ends its pool, the dialect owns the instance so that
 *   `db.destroy()` alone flushes and frees it). Pass `closeOnDestroy: false`
 *   when the instance is shared with other code and closed by its owner.
 *
 * - `streamQuery` is not supported.
 */
import type { PGlite, Results } from '@electric-sql/pglite';
import {
  AbortedTransactionError,
  CompiledQuery,
  createQueryId,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  IdentifierNode,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  RawNode,
  type TransactionSettings,
} from 'kysely';

export interface PGliteDialectConfig {
  /** An already created PGlite instance (`new PGlite(...)` or `await PGlite.create(...)`). */
  pglite: PGlite;
  /**
   * Close the PGlite instance in `Kysely#destroy()`. Default: true.
   * Set to false if the instance is owned and closed elsewhere.
   */
  closeOnDestroy?: boolean;
}

export class PGliteDialect implements Dialect {
  readonly #config: PGliteDialectConfig;

  constructor(config: PGliteDialectConfig) {
    this.#config = { ...config };
  }

  createDriver(): Driver {
    return new PGliteDriver(this.#config);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface declares it so.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

/** Minimal FIFO async mutex. `acquire()` resolves with the matching release function. */
class AsyncMutex {
  #locked = false;
  readonly #waiters: Array<() => void> = [];

  async acquire(): Promise<() => void> {
    if (this.#locked) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      // Ownership was handed over directly by the previous holder; #locked stays true.
    } else {
      this.#locked = true;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#locked = false;
    };
  }
}

class PGliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #closeOnDestroy: boolean;
  readonly #mutex = new AsyncMutex();
  readonly #connection: PGliteConnection;
  #release: (() => void) | undefined;
  #destroyed = false;

  constructor(config: PGliteDialectConfig) {
    this.#pglite = config.pglite;
    this.#closeOnDestroy = config.closeOnDestroy ?? true;
    this.#connection = new PGliteConnection(config.pglite);
  }

  async init(): Promise<void> {
    await this.#pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#destroyed) throw new Error('driver has already been destroyed');
    const release = await this.#mutex.acquire();
    if (this.#destroyed) {
      release();
      throw new Error('driver has already been destroyed');
    }
    this.#release = release;
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let sql = 'begin';
    if (settings.isolationLevel || settings.accessMode) {
      sql = 'start transaction';
      if (settings.isolationLevel) sql += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode) sql += ` ${settings.accessMode}`;
    }
    await connection.executeQuery(CompiledQuery.raw(sql));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const { rows } = await connection.executeQuery<{ command?: string }>(CompiledQuery.raw('commit'));
    // Postgres completes COMMIT with a ROLLBACK tag if an earlier statement
    // error left the transaction aborted.
    if (rows[0]?.command === 'ROLLBACK') throw new AbortedTransactionError();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand('savepoint', savepointName), createQueryId()));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand('rollback to', savepointName), createQueryId()));
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand('release', savepointName), createQueryId()));
  }

  async releaseConnection(_connection: DatabaseConnection): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    try {
      // Never hand a session with an open transaction to the next caller.
      if (!this.#pglite.closed && this.#pglite.isInTransaction()) {
        await this.#pglite.query('rollback');
      }
    } finally {
      release?.();
    }
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    // Wait for the current holder (and those queued before destroy) to finish.
    const release = await this.#mutex.acquire();
    try {
      if (this.#closeOnDestroy && !this.#pglite.closed) await this.#pglite.close();
    } finally {
      release();
    }
  }
}

function savepointCommand(command: string, savepointName: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(savepointName)]);
}

const AFFECTED_ROWS_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    let result: Results<R>;
    try {
      // A parameterless script of several statements (a migration file) needs the simple query
      // protocol, which `query` (extended protocol, one statement) does not speak.
      result =
        compiledQuery.parameters.length === 0 && compiledQuery.sql.includes(';')
          ? ((await this.#pglite.exec(compiledQuery.sql, { rowMode: 'object' })).at(-1) as Results<R>)
          : await this.#pglite.query<R>(compiledQuery.sql, [...compiledQuery.parameters], { rowMode: 'object' });
    } catch (err) {
      throw prepareError(err);
    }
    const command = result.command?.toUpperCase();
    if (command === 'COMMIT' || command === 'ROLLBACK') {
      // Lets commitTransaction detect an aborted transaction (same contract as Kysely's PostgresDriver).
      return { rows: [{ command } as R] };
    }
    return {
      rows: result.rows ?? [],
      numAffectedRows:
        command !== undefined && AFFECTED_ROWS_COMMANDS.has(command)
          ? BigInt(result.affectedRows ?? result.rowCount ?? 0)
          : undefined,
    };
  }

  // biome-ignore lint/correctness/useYield: streaming is not supported; the generator only throws.
  async *streamQuery<R>(_compiledQuery: CompiledQuery, _chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGliteDialect does not support streamQuery');
  }
}

/**
 * Keeps the PGlite error object (with `code`, `constraint`, ...) but hides the
 * bound parameters from serializers and adds the caller's stack.
 */
function prepareError(err: unknown): unknown {
  if (err !== null && typeof err === 'object') {
    for (const key of ['params', 'queryOptions']) {
      const desc = Object.getOwnPropertyDescriptor(err, key);
      if (desc?.enumerable && desc.configurable) Object.defineProperty(err, key, { ...desc, enumerable: false });
    }
    if (err instanceof Error && err.stack) {
      const callerStack = new Error().stack?.split('\n').slice(1).join('\n');
      if (callerStack) err.stack += `\n${callerStack}`;
    }
  }
  return err;
}
