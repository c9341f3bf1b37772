import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { systemClock } from './clock.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { startAdminChannel } from './admin/channel.js';
import { createLogger } from './logger.js';
import { startSweeper } from './maintenance/sweep.js';
import { startEventDispatcher } from './events/dispatcher.js';
import { createMetrics } from './metrics/metrics.js';
import { metricsApp } from './metrics/routes.js';

// The only file that reads process.env.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });

  let database;
  try {
    database = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      preparedStatements: config.preparedStatements,
      poolSize: config.databasePool.size,
      connectTimeoutMs: config.databasePool.connectTimeoutMs,
      statementTimeoutMs: config.databasePool.statementTimeoutMs,
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  if (config.migrateOnStart) {
    if (config.migrationDatabaseUrl !== null && config.migrationDatabaseUrl !== config.databaseUrl) {
      await migrateThrough(config.migrationDatabaseUrl, config.databasePool.connectTimeoutMs);
    } else {
      if (config.databaseUrl !== null && !config.preparedStatements) {
        // Prepared statements off usually means a transaction-mode pooler, where the Migrator's
        // session-level lock may be taken on one server connection and released on another.
        logger.warn(
          'migrating through DATABASE_URL with DATABASE_PREPARED_STATEMENTS=false: if this is a transaction-mode pooler (PgBouncer), set MIGRATION_DATABASE_URL to a direct or session-mode URL, or MIGRATE_ON_START=false and run `npm run migrate` against one',
        );
      }
      await migrateToLatest(database.db);
    }
  }

  const metricsOn = config.metrics.token !== null || config.metrics.port !== null;
  // droppedLogLines: connect the logger's dropped-lines counter here once server/logger.ts exports it.
  const droppedLogLines: (() => number) | undefined = undefined;
  const metrics = metricsOn ? createMetrics({ db: database.db, pool: database.pool, droppedLogLines }) : undefined;
  const deps = { db: database.db, config, clock: systemClock, logger, metrics, droppedLogLines };
  const app = createApp(deps);
  // METRICS_PORT: GET /metrics without a token, on loopback only.
  const metricsServer =
    metrics && config.metrics.port !== null
      ? serve({ fetch: metricsApp(metrics).fetch, port: config.metrics.port, hostname: '127.0.0.1' }, (info) => logger.info({ port: info.port }, 'metrics on http://127.0.0.1:%d/metrics', info.port))
      : null;
  // Benchmark-only routes (bench/routes.ts), never mounted unless BENCH_ROUTES=1.
  if (process.env.BENCH_ROUTES === '1') app.route('/', (await import('../bench/routes.js')).benchRoutes(deps));
  // The local admin channel for `npm run admin` while this server holds the PGlite folder.
  if (database.lock) await startAdminChannel(database.lock, deps);
  // Deletes expired challenges, old sessions and spent counters; safe on several instances at once.
  const sweeper = startSweeper(deps);
  // Delivers security events from the outbox to WEBHOOK_URL; safe on several instances at once.
  const dispatcher = startEventDispatcher(deps);
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info(
      { port: info.port, database: database.kind === 'pglite' ? `pglite:${config.dataDir}` : 'postgres', origins: config.origins, rpId: config.rpId },
      `listening on http://localhost:${info.port}`,
    );
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing requests in flight');
    const sweepStopped = sweeper.stop();
    const dispatchStopped = dispatcher.stop();
    metricsServer?.close();
    // Stop accepting, let requests in flight finish, then close the pool.
    server.close(async () => {
      await sweepStopped;
      await dispatchStopped;
      await database.close();
      logger.info('stopped');
      process.exit(0);
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Runs the migrations over their own single direct (or session-mode) connection. */
async function migrateThrough(url: string, connectTimeoutMs: number): Promise<void> {
  const handle = await openDatabase({ databaseUrl: url, dataDir: '', poolSize: 1, connectTimeoutMs, statementTimeoutMs: 3_600_000 });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
}

await main();
