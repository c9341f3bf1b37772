import { setFlagsFromString } from 'node:v8';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { type Auth, AuthStartError, createAuth } from './auth.js';
import { ConfigError, loadConfig } from './config.js';
import { answerClientErrorsInJson } from './http/client-error.js';
import { createLogger, nonBlockingDestination } from './logger.js';
import { metricsApp } from './metrics/routes.js';
import { armWatchdog } from './watchdog.js';

// The only file that reads process.env. The standalone server: the embedding API (server/auth.ts)
// plus the demo page, `/healthz` and the contract's 404 (server/app.ts).
async function main(): Promise<void> {
  boundHeapGrowth();
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

  // Opens the database and resolves the key-encryption key; start() migrates, seals signing keys
  // stored in the clear, and starts the sweeper, the webhook dispatcher and the admin channel.
  let auth: Auth;
  try {
    auth = await createAuth({ env: process.env, logger });
  } catch (error) {
    fail(error);
  }
  try {
    await auth.start();
  } catch (error) {
    await auth.stop().catch(() => {});
    fail(error);
  }

  // Benchmark-only routes (bench/routes.ts), never mounted unless BENCH_ROUTES=1.
  const benchRoutes =
    process.env.BENCH_ROUTES === '1' ? [(await import('../bench/routes.js')).benchRoutes(auth.deps)] : [];
  const app = createApp(auth.deps, { routes: benchRoutes });
  const { metrics } = auth.deps;
  // METRICS_PORT: GET /metrics without a token, on loopback only.
  const metricsServer =
    metrics && config.metrics.port !== null
      ? serve({ fetch: metricsApp(metrics).fetch, port: config.metrics.port, hostname: '127.0.0.1' }, (info) =>
          logger.info({ port: info.port }, 'metrics on http://127.0.0.1:%d/metrics', info.port),
        )
      : null;
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info(
      {
        port: info.port,
        database: auth.databaseKind === 'pglite' ? `pglite:${config.dataDir}` : 'postgres',
        origins: config.origins,
        rpId: config.rpId,
      },
      `listening on http://localhost:${info.port}`,
    );
  });
  server.once('error', async (error: NodeJS.ErrnoException) => {
    await auth.stop().catch(() => {});
    if (error.code === 'EADDRINUSE')
      fail(`Port ${config.port} is in use (EADDRINUSE): stop the other process or set PORT to a free port.`);
    if (error.code === 'EACCES')
      fail(`Port ${config.port} on ${config.host} is not allowed (EACCES): set PORT above 1023.`);
    fail(error);
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
      logger.error(
        { signal, shutdownTimeout: config.shutdownTimeout },
        'stopping: shutdown window elapsed, exiting with work unfinished',
      );
      process.exit(1);
    }, windowMs).unref();
    armWatchdog(windowMs + 5000);
    logger.info({ signal, shutdownTimeout: config.shutdownTimeout }, 'stopping: finishing requests in flight');
    // The sweeper, the dispatcher and the admin channel stop now; the database stays open for requests in flight.
    const backgroundStopped = auth.stopBackground();
    metricsServer?.close();
    // Stop accepting, let requests in flight finish, then close the pool.
    server.close(async () => {
      await backgroundStopped;
      await auth.stop();
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

/**
 * Memory under load: after a full collection V8 lets the old generation grow to a multiple of what
 * survived (up to 4x for a process that collects quickly) before the next one, so a server with
 * 20 MB live peaked at 150 MB of RSS under steady load (docs/performance.md). At 1.5x the peak stays
 * near 120 MB with no measurable CPU cost. Read by V8 at each collection, so setting it now works;
 * a `--heap-growing-percent` given to node (command line or NODE_OPTIONS) wins.
 */
function boundHeapGrowth(): void {
  const flag = '--heap-growing-percent';
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!given.some((arg) => arg.replace(/_/g, '-').startsWith(flag))) setFlagsFromString(`${flag}=50`);
}

/** One line on stderr naming the cause, no stack, and a non-zero exit. */
function fail(error: unknown): never {
  const message =
    typeof error === 'string'
      ? error
      : error instanceof AuthStartError || error instanceof Error
        ? error.message
        : String(error);
  console.error(`passkey-auth-server: ${message.split('\n')[0]}`);
  process.exit(1);
}

await main();
