import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { AuthStartError, createAuth, type Auth } from './auth.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

// The only file that reads process.env. The standalone server: the embedding API (server/auth.ts)
// plus the demo page, `/healthz` and the contract's 404 (server/app.ts).
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

  const app = createApp(auth.deps);
  // Benchmark-only routes (bench/routes.ts), never mounted unless BENCH_ROUTES=1.
  if (process.env.BENCH_ROUTES === '1') app.route('/', (await import('../bench/routes.js')).benchRoutes(auth.deps));
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info(
      { port: info.port, database: auth.databaseKind === 'pglite' ? `pglite:${config.dataDir}` : 'postgres', origins: config.origins, rpId: config.rpId },
      `listening on http://localhost:${info.port}`,
    );
  });
  server.once('error', async (error: NodeJS.ErrnoException) => {
    await auth.stop().catch(() => {});
    if (error.code === 'EADDRINUSE') fail(`Port ${config.port} is in use (EADDRINUSE): stop the other process or set PORT to a free port.`);
    if (error.code === 'EACCES') fail(`Port ${config.port} on ${config.host} is not allowed (EACCES): set PORT above 1023.`);
    fail(error);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing requests in flight');
    // Stop accepting, let requests in flight finish, then stop the background work and close the pool.
    server.close(async () => {
      await auth.stop();
      logger.info('stopped');
      process.exit(0);
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** One line on stderr naming the cause, no stack, and a non-zero exit. */
function fail(error: unknown): never {
  const message = typeof error === 'string' ? error : error instanceof AuthStartError || error instanceof Error ? error.message : String(error);
  console.error(`passkey-auth-server: ${message.split('\n')[0]}`);
  process.exit(1);
}

await main();
