import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  PostgresDialect,
  type PostgresDialectConfig,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { isRetryableTransactionError, type RetryStats, retryDelay } from './transaction.js';

/**
 * PostgreSQL, where a statement run on its own (outside a transaction) is run again after a
 * serialization failure or deadlock. Under SERIALIZABLE a single-statement write can be chosen as
 * the one to fail, like any transaction; the database has rolled it back entirely, so running it
 * again is safe and keeps "single statements that must be atomic" single statements. Statements
 * inside a transaction are never re-run here: the transaction is aborted, and {@link inTransaction}
 * re-runs it whole.
 */
export class RetryingPostgresDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    private readonly stats: RetryStats,
    private readonly maxAttempts = 5,
    private readonly hooks: DriverHooks = {},
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new RetryingDriver(super.createDriver(), this.stats, this.maxAttempts, this.hooks);
  }
}

/** What the driver tells the rest of the database layer (server/db/database.ts). */
export interface DriverHooks {
  /** Before each pool checkout (the fixed-query lane gives back an idle client when the pool has none). */
  beforeAcquire?(): void;
  /** Before the pool ends (the lane's idle clients go back, the pipelined read connections close). */
  beforeDestroy?(): Promise<void> | void;
}

class RetryingConnection implements DatabaseConnection {
  inTransaction = false;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly stats: RetryStats,
    private readonly maxAttempts: number,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction) return this.inner.executeQuery<R>(query);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (error) {
        if (!isRetryableTransactionError(error)) throw error;
        if (attempt >= this.maxAttempts) {
          this.stats.exhausted++;
          throw error;
        }
        this.stats.statementRetries++;
        await sleep(retryDelay(attempt, 5));
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class RetryingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly stats: RetryStats,
    private readonly maxAttempts: number,
    private readonly hooks: DriverHooks,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.hooks.beforeAcquire?.();
    return new RetryingConnection(await this.inner.acquireConnection(), this.stats, this.maxAttempts);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as RetryingConnection;
    c.inTransaction = true;
    await this.inner.beginTransaction(c.inner, settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as RetryingConnection;
    try {
      await this.inner.commitTransaction(c.inner);
    } finally {
      c.inTransaction = false;
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as RetryingConnection;
    try {
      await this.inner.rollbackTransaction(c.inner);
    } finally {
      c.inTransaction = false;
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.savepoint?.((connection as RetryingConnection).inner, name, compile);
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.inner.rollbackToSavepoint?.((connection as RetryingConnection).inner, name, compile);
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.inner.releaseSavepoint?.((connection as RetryingConnection).inner, name, compile);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as RetryingConnection;
    c.inTransaction = false;
    await this.inner.releaseConnection(c.inner);
  }

  async destroy(): Promise<void> {
    // pool.end() waits for every checked-out client, the lane's idle ones too.
    await this.hooks.beforeDestroy?.();
    return this.inner.destroy();
  }
}
