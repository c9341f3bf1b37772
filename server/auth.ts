import type { Hono, MiddlewareHandler } from 'hono';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import { startAdminChannel } from './admin/channel.js';
import { createAuthRoutes } from './app.js';
import { type Clock, systemClock } from './clock.js';
import { type Config, ConfigError, defaultOrigin, loadConfig } from './config.js';
import { openDatabase, pingDatabase } from './db/database.js';
import { MigrationError, migrateToLatest } from './db/migrate.js';
import type { Database } from './db/schema.js';
import type { Deps } from './deps.js';
import { AuthError } from './errors.js';
import { type EventDispatcher, startEventDispatcher } from './events/dispatcher.js';
import type { AppEnv } from './http/env.js';
import { errorResponse, handleError, isDatabaseUnavailable } from './http/errors.js';
import { createLogger, logDropped } from './logger.js';
import { type Sweeper, startSweeper } from './maintenance/sweep.js';
import { createMetrics } from './metrics/metrics.js';
import { type RequireSessionOptions, requireSession } from './sessions/gate.js';
import type { Session } from './sessions/service.js';
import { resolveKeyEncryptionKey } from './tokens/key-encryption.js';
import { sealUnsealedSigningKeys } from './tokens/keys.js';
import type { User } from './user.js';

/** A partial {@link Config}: every field optional, nested groups merged field by field over the defaults. */
export type AuthConfig = {
  [K in keyof Config]?: Config[K] extends readonly unknown[] | Uint8Array | null
    ? Config[K]
    : Config[K] extends object
      ? Partial<Config[K]>
      : Config[K];
};

/** Options of {@link createAuth}. */
export interface CreateAuthOptions {
  /**
   * Environment variables, validated exactly as the standalone server validates its environment
   * (`ORIGIN`, `RP_ID`, `DATABASE_URL`...). Pass `process.env` to configure it like `npm start`.
   */
  env?: Record<string, string | undefined>;
  /** Typed configuration, merged over the defaults (and over `env`, when both are given). */
  config?: AuthConfig;
  /**
   * The database: a `postgres://` URL, an existing `pg.Pool`, or an existing `Kysely` instance. By
   * default the configured `DATABASE_URL`, else embedded PGlite under `dataDir`. A pool or Kysely
   * instance you pass stays yours: {@link Auth.stop} does not close it.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the host's Kysely instance has the host's own schema type.
  database?: string | pg.Pool | Kysely<any>;
  /** A pino logger (default: JSON lines on stdout at `config.logLevel`). */
  logger?: Logger;
  /** The clock (default: the system clock); tests pass one they can move. */
  clock?: Clock;
}

/** What {@link Auth.requireSession} puts in `c.var`. */
export interface AuthVariables {
  /** The signed-in user. */
  user: User;
  /** The session the request's cookie names. */
  session: Session;
}

/** Options of {@link Auth.start}. */
export interface StartOptions {
  /** Apply pending migrations first (default: `config.migrateOnStart`, itself `true` by default). */
  migrate?: boolean;
}

/** The embedded auth server returned by {@link createAuth}. */
export interface Auth {
  /**
   * A Hono app answering the contract's paths (`/auth/...`, `/.well-known/jwks.json`) and nothing
   * else: mount it with `host.route('/', auth.routes)` and every other path stays the host's.
   */
  readonly routes: Hono<AppEnv>;
  /**
   * Middleware for the host's own routes: admits a request with a live session and puts `user` and
   * `session` in `c.var`; otherwise answers the contract's JSON itself (401 `unauthenticated`, 403
   * `reauthentication_required`, 503 `unavailable`), without any handler installed by the host.
   */
  requireSession(options?: RequireSessionOptions): MiddlewareHandler<{ Variables: AuthVariables }>;
  /** Checks the database, applies migrations when asked, and starts the sweeper, the webhook dispatcher and the admin channel. */
  start(options?: StartOptions): Promise<void>;
  /**
   * Stops the background work (sweeper, webhook dispatcher, admin channel) and leaves the database
   * open, so requests in flight can finish: call it when shutdown begins, then {@link Auth.stop} once
   * the HTTP server has closed. Optional ({@link Auth.stop} does it too). Idempotent.
   */
  stopBackground(): Promise<void>;
  /** Stops what {@link Auth.start} started and closes what {@link createAuth} opened; leaves no open handle. Idempotent. */
  stop(): Promise<void>;
  /** True when the database answers a trivial query (for a health check). */
  healthy(): Promise<boolean>;
  /** The validated configuration in use. */
  readonly config: Config;
  /** The Kysely instance the server uses. */
  readonly db: Kysely<Database>;
  /** What the routes are built from; for building more of the server's own pieces (the standalone demo). */
  readonly deps: Deps;
  /** `'pglite'` (embedded) or `'postgres'`. */
  readonly databaseKind: 'pglite' | 'postgres';
}

/**
 * Why {@link Auth.start} could not start, in one line fit for an operator: the database could not
 * be reached, or a named migration failed. The underlying error is `cause`.
 */
export class AuthStartError extends Error {
  override readonly name = 'AuthStartError';
}

/**
 * Builds the auth server for embedding in a Hono app: the contract's routes, a session guard for
 * the host's own routes, and the background work (sweep, webhooks, admin channel) to start and stop.
 *
 * @example
 * const auth = await createAuth({ env: process.env });
 * await auth.start();
 * const app = new Hono();
 * app.route('/', auth.routes);
 * app.get('/api/me', auth.requireSession(), (c) => c.json({ user: c.var.user }));
 */
export async function createAuth(options: CreateAuthOptions = {}): Promise<Auth> {
  const resolved = resolveConfig(options);
  const logger = options.logger ?? createLogger({ level: resolved.logLevel });
  const clock = options.clock ?? systemClock;
  const database = await openGivenDatabase(options.database, resolved);
  let config: Config;
  try {
    // Signing keys are sealed: with TOKEN_KEY_ENCRYPTION_KEY, or on PGlite with a key of the data folder's own.
    const keyEncryptionKey = await resolveKeyEncryptionKey(
      resolved.tokens.keyEncryptionKey,
      database.lock?.path ?? null,
    );
    config = { ...resolved, tokens: { ...resolved.tokens, keyEncryptionKey } };
  } catch (error) {
    await database.close();
    throw error;
  }
  // Metrics are on with METRICS_TOKEN or METRICS_PORT (the pool's sizes when this instance owns the pool).
  const metricsOn = config.metrics.token !== null || config.metrics.port !== null;
  const metrics = metricsOn
    ? createMetrics({ db: database.db, pool: database.pool, droppedLogLines: logDropped })
    : undefined;
  const deps: Deps = { db: database.db, config, clock, logger, metrics, droppedLogLines: logDropped };
  const routes = createAuthRoutes(deps);

  let sweeper: Sweeper | null = null;
  let dispatcher: EventDispatcher | null = null;
  let backgroundStopped: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;
  const stopBackground = (): Promise<void> => {
    backgroundStopped ??= (async () => {
      database.lock?.onConnection(null);
      await Promise.all([sweeper?.stop(), dispatcher?.stop()]);
    })();
    return backgroundStopped;
  };

  return {
    routes,
    config,
    db: database.db,
    deps,
    databaseKind: database.kind,
    requireSession: (sessionOptions) => guard(deps, sessionOptions),
    healthy: () => pingDatabase(database.db),
    async start(startOptions = {}) {
      if (stopped !== null || backgroundStopped !== null)
        throw new Error('This auth instance was stopped; create another one.');
      if (sweeper !== null) return;
      const unreachable = await sql`select 1`.execute(database.db).then(
        () => null,
        (error: unknown) => ({ error }),
      );
      if (unreachable !== null) {
        throw new AuthStartError(`Cannot reach the database${database.where}: ${reasonOf(unreachable.error)}`, {
          cause: unreachable.error,
        });
      }
      if (startOptions.migrate ?? config.migrateOnStart) {
        try {
          if (config.migrationDatabaseUrl !== null && config.migrationDatabaseUrl !== config.databaseUrl) {
            await migrateThrough(config.migrationDatabaseUrl, config.databasePool.connectTimeoutMs);
          } else {
            if (config.databaseUrl !== null && !config.preparedStatements) {
              // Prepared statements off usually means a transaction-mode pooler, where the Migrator's
              // session-level lock may be taken on one server connection and released on another.
              logger.warn(
                'migrating through DATABASE_URL with DATABASE_PREPARED_STATEMENTS=false: if this is a transaction-mode pooler (PgBouncer), set MIGRATION_DATABASE_URL to a direct or session-mode URL, or MIGRATE_ON_START=false and run `passkey-auth-server migrate` against one',
              );
            }
            await migrateToLatest(database.db);
          }
        } catch (error) {
          if (error instanceof MigrationError && error.migration === null && isDatabaseUnavailable(error.cause)) {
            throw new AuthStartError(`Cannot reach the database${database.where}: ${reasonOf(error.cause)}`, {
              cause: error,
            });
          }
          const what =
            error instanceof MigrationError && error.migration !== null
              ? `Migration ${error.migration} failed`
              : 'Migrations failed';
          throw new AuthStartError(`${what}: ${reasonOf(error instanceof MigrationError ? error.cause : error)}`, {
            cause: error,
          });
        }
      }
      // Keys stored in the clear before a key-encryption key existed (needs the migrated schema).
      if (config.tokens.keyEncryptionKey !== null) {
        const sealed = await sealUnsealedSigningKeys(database.db, config.tokens.keyEncryptionKey);
        if (sealed > 0)
          logger.warn(
            { sealed },
            'sealed signing keys that were stored in the clear; rotate them (passkey-auth-server admin keys:rotate), as old database pages may still hold them',
          );
      }
      // The local admin channel (`passkey-auth-server admin ...`) while this process holds the PGlite folder.
      if (database.lock) await startAdminChannel(database.lock, deps);
      // Deletes expired challenges, old sessions and spent counters; safe on several instances at once.
      sweeper = startSweeper(deps);
      // Delivers security events from the outbox to WEBHOOK_URL; safe on several instances at once.
      dispatcher = startEventDispatcher(deps);
    },
    stopBackground,
    stop() {
      stopped ??= (async () => {
        await stopBackground();
        await database.close();
      })();
      return stopped;
    },
  };
}

/** {@link requireSession} that answers its own refusals as the contract's JSON. */
function guard(deps: Deps, options: RequireSessionOptions = {}): MiddlewareHandler<{ Variables: AuthVariables }> {
  const inner = requireSession(deps, options);
  const onError = handleError(deps.logger);
  return async (c, next) => {
    let admitted = false;
    try {
      await inner(c as unknown as Parameters<typeof inner>[0], async () => {
        admitted = true;
      });
    } catch (error) {
      if (admitted) throw error;
      return error instanceof AuthError ? errorResponse(c, error) : onError(error, c);
    }
    if (admitted) await next();
  };
}

function resolveConfig(options: CreateAuthOptions): Config {
  const base = loadConfig(options.env ?? {});
  const input = options.config;
  if (input === undefined) return base;
  const merged: Config = { ...base };
  for (const [key, value] of Object.entries(input) as [keyof Config, unknown][]) {
    if (value === undefined) continue;
    const current = base[key];
    (merged as unknown as Record<string, unknown>)[key] =
      isPlainObject(value) && isPlainObject(current) ? { ...current, ...value } : value;
  }
  const envOrigin = options.env?.ORIGIN?.trim();
  if (input.origins === undefined && !envOrigin && (input.port !== undefined || input.rpId !== undefined)) {
    merged.origins = [defaultOrigin(merged.port, merged.rpId)];
  }
  if (input.tokens?.audience === undefined && !options.env?.TOKEN_AUDIENCE?.trim()) {
    merged.tokens = { ...merged.tokens, audience: merged.origins[0] ?? '' };
  }
  if (merged.origins.length === 0)
    throw new ConfigError('Invalid configuration:\n  origins: at least one origin is needed');
  for (const origin of merged.origins) {
    const host = new URL(origin).hostname;
    if (host !== merged.rpId && !host.endsWith(`.${merged.rpId}`)) {
      throw new ConfigError(
        `Invalid configuration:\n  origin ${origin} is not on rpId ${merged.rpId} or one of its subdomains`,
      );
    }
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Runs the migrations over their own single direct (or session-mode) connection. */
async function migrateThrough(url: string, connectTimeoutMs: number): Promise<void> {
  const handle = await openDatabase({
    databaseUrl: url,
    dataDir: '',
    poolSize: 1,
    connectTimeoutMs,
    statementTimeoutMs: 3_600_000,
  });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
}

interface OpenedDatabase {
  db: Kysely<Database>;
  pool?: pg.Pool;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
  lock?: import('./db/data-dir-lock.js').DataDirLock;
  /** Where the database is, for messages: never a user or password. */
  where: string;
}

async function openGivenDatabase(given: CreateAuthOptions['database'], config: Config): Promise<OpenedDatabase> {
  if (given === undefined || typeof given === 'string') {
    const databaseUrl = given ?? config.databaseUrl;
    const opened = await openDatabase({
      databaseUrl,
      dataDir: config.dataDir,
      preparedStatements: config.preparedStatements,
      pipelinedReads: config.pipelinedReads,
      poolSize: config.databasePool.size,
      connectTimeoutMs: config.databasePool.connectTimeoutMs,
      statementTimeoutMs: config.databasePool.statementTimeoutMs,
    });
    return { ...opened, where: opened.kind === 'pglite' ? ` (embedded, ${config.dataDir})` : describeUrl(databaseUrl) };
  }
  if (given instanceof Kysely || typeof (given as { selectFrom?: unknown }).selectFrom === 'function') {
    return { db: given as Kysely<Database>, kind: 'postgres', close: async () => {}, where: '' };
  }
  // A pool the host owns: Kysely would end it on destroy, so this instance is never destroyed.
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: given as pg.Pool }) }),
    kind: 'postgres',
    close: async () => {},
    where: '',
  };
}

function describeUrl(databaseUrl: string | null): string {
  if (databaseUrl === null) return '';
  try {
    const url = new URL(databaseUrl);
    // Never the user or password: host, port and database name only.
    return ` at ${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return '';
  }
}

function reasonOf(error: unknown): string {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e instanceof AggregateError && e.errors[0] instanceof Error) return reasonOf(e.errors[0]);
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return `${code} (${e.message})`;
    if (!(e.cause instanceof Error)) return e.message;
  }
  return error instanceof Error ? error.message : String(error);
}
