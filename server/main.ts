import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { systemClock } from './clock.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { startAdminChannel } from './admin/channel.js';
import { createLogger, nonBlockingDestination } from './logger.js';
import { startSweeper } from './maintenance/sweep.js';
import { startEventDispatcher } from './events/dispatcher.js';
import { answerClientErrorsInJson } from './http/client-error.js';
import { resolveKeyEncryptionKey } from './tokens/key-encryption.js';
import { sealUnsealedSigningKeys } from './tokens/keys.js';
import { armWatchdog } from './watchdog.js';

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
  // Never blocks on a slow log consumer: lines beyond a bounded backlog are dropped and counted.
  const logOutput = nonBlockingDestination({ maxBufferedBytes: config.logBufferBytes });
  const logger = createLogger({ level: config.logLevel, destination: logOutput });

  let database;
  try {
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, preparedStatements: config.preparedStatements });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  if (config.migrateOnStart) await migrateToLatest(database.db);
  // Signing keys are sealed: with TOKEN_KEY_ENCRYPTION_KEY, or on PGlite with a key of the data folder's own.
  const keyEncryptionKey = await resolveKeyEncryptionKey(config.tokens.keyEncryptionKey, database.lock?.path ?? null);
  config = { ...config, tokens: { ...config.tokens, keyEncryptionKey } };
  if (keyEncryptionKey !== null) {
    const sealed = await sealUnsealedSigningKeys(database.db, keyEncryptionKey);
    if (sealed > 0) logger.warn({ sealed }, 'sealed signing keys that were stored in the clear; rotate them (npm run admin -- keys:rotate), as old database pages may still hold them');
  }

  const deps = { db: database.db, config, clock: systemClock, logger };
  const app = createApp(deps);
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

  // Node's own answers to malformed HTTP (400, 431, 408) carry the contract's JSON error body too.
  answerClientErrorsInJson(server as import('node:http').Server);

  // Shutdown always ends within SHUTDOWN_TIMEOUT: nothing on this path can block the event loop
  // (logs never do), so the forced exit fires whatever the clients, the database or the log pipe
  // do; the watchdog thread covers a loop blocked all the same. A second signal changes nothing
  // (process managers and terminals often deliver the same signal twice).
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const windowMs = config.shutdownTimeout * 1000;
    const deadline = Date.now() + windowMs;
    setTimeout(() => {
      logger.error({ signal, shutdownTimeout: config.shutdownTimeout }, 'stopping: shutdown window elapsed, exiting with work unfinished');
      process.exit(1);
    }, windowMs).unref();
    armWatchdog(windowMs + 5000);
    logger.info({ signal, shutdownTimeout: config.shutdownTimeout }, 'stopping: finishing requests in flight');
    const sweepStopped = sweeper.stop();
    const dispatchStopped = dispatcher.stop();
    // Stop accepting, let requests in flight finish, then close the pool.
    server.close(async () => {
      await sweepStopped;
      await dispatchStopped;
      await database.close();
      logger.info('stopped');
      // Give the log consumer what is left, within the window: an unread pipe must not hold the exit.
      await logOutput.drained(Math.min(1000, Math.max(0, deadline - Date.now())));
      process.exit(0);
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
