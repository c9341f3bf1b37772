/**
 * `npm run bench`: the server's throughput on PostgreSQL and on PGlite, measured side by side in
 * the same run with a bare Hono app on the same adapter (the floor) and with Better Auth's
 * `getSession` on the same PostgreSQL server and as many sessions; every target is a ratio within
 * the run or a CPU cost per request (docs/performance.md).
 *
 *   npm run bench -- [--quick] [--backend=pg|pglite|both] [--sessions=1000000] [--duration=6]
 *                    [--warmup=1] [--connections=50] [--concurrency=16] [--users=100000]
 *                    [--log-level=silent] [--profile] [--no-pin] [--no-compare] [--repeat=5]
 *                    [--node-flags='--max-semi-space-size=2']
 *
 * For each backend: two fresh databases, 10 000 and N sessions (PostgreSQL: `bench_<random>` on
 * BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres, dropped at the end;
 * PGlite: temporary DATA_DIRs), migrations, set-based seeding (bench/seed.ts), then the real server
 * (`server/main.ts`, bundled and flagged as `npm start` runs it) on each as a child process with
 * BENCH_ROUTES=1, next to bare Hono and Better Auth, all pinned to core 0 (the load generator, wrk
 * started by this process, or autocannon in it when wrk is not installed, to the last core),
 * measured over loopback in interleaved rounds (medians). `--quick`: PostgreSQL only, 200 000
 * sessions, one round of 2 s per scenario, under two minutes.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../server/db/database.js';
import { migrateToLatest } from '../server/db/migrate.js';
import type { Database } from '../server/db/schema.js';
import { betterAuthCookie, seedBetterAuth } from './compare/better-auth.js';
import { summarizeProfile } from './profile.js';
import { loadGenerator, runLoad, runSignIns, type ScenarioResult } from './scenarios.js';
import { analyze, seedSessions, seedUsers, sessionToken } from './seed.js';
import { measuredServerScript, type ServerProcess, startScriptFlags, startServerProcess } from './server-process.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const resultsDir = path.join(root, 'bench/results');
const cookieName = '__Host-session';
const smallTable = 10_000;

type Backend = 'pg' | 'pglite';

interface Options {
  backends: Backend[];
  sessions: number;
  users: number;
  duration: number;
  warmup: number;
  connections: number;
  concurrency: number;
  logLevel: string;
  profile: boolean;
  /** CPU core the measured server is pinned to (the load generator takes another); null: unpinned. */
  serverCpu: number | null;
  compare: boolean;
  /** Rounds of the interleaved scenarios; each figure is the median of the rounds. */
  repeat: number;
  /** V8 and Node flags for the auth servers (not the comparison servers). */
  nodeFlags: string[];
  adminUrl: string;
}

interface BackendResult {
  backend: Backend;
  skipped?: string;
  seedSeconds: { users: number; smallSessions: number; largeSessions: number };
  scenarios: ScenarioResult[];
  ratios: Record<string, number | null>;
  /**
   * Each target's verdict: `pass`, or `fail`; `limit` when the target is out of reach of the
   * measured limit itself (the raw `pg` lookup, pipelined, for the session targets) in the same run, with its value.
   */
  targets: Array<{ target: string; value: string; pass: boolean; limit?: string; verdict: 'pass' | 'fail' | 'limit' }>;
  notes: string[];
  /** CPU profiles written by `--profile` (`.cpuprofile`, open in Chrome DevTools). */
  profiles: string[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'both' },
      sessions: { type: 'string', default: '1000000' },
      users: { type: 'string', default: '100000' },
      duration: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      concurrency: { type: 'string', default: '16' },
      'log-level': { type: 'string', default: 'silent' },
      profile: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: os.cpus().length >= 2 },
      compare: { type: 'boolean', default: true },
      repeat: { type: 'string', default: '5' },
      'node-flags': { type: 'string', default: '' },
    },
    allowNegative: true,
  });
  // --quick: a smaller run (PostgreSQL only, 200 000 sessions, one round of 2 s per scenario) in under two minutes.
  if (values.quick) {
    values.backend = values.backend === 'both' ? 'pg' : values.backend;
    if (!process.argv.some((a) => a.startsWith('--sessions'))) values.sessions = '200000';
    if (!process.argv.some((a) => a.startsWith('--users'))) values.users = '20000';
    if (!process.argv.some((a) => a.startsWith('--duration'))) values.duration = '2';
    if (!process.argv.some((a) => a.startsWith('--warmup'))) values.warmup = '1.5';
    if (!process.argv.some((a) => a.startsWith('--repeat'))) values.repeat = '1';
  }
  const count = (name: string, raw: string, min: number): number => {
    const n = Number(raw.replace(/[_,]/g, ''));
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name}=${raw}: expected a number of at least ${min}`);
    return n;
  };
  const backend = values.backend as string;
  if (!['pg', 'pglite', 'both'].includes(backend)) throw new Error(`--backend=${backend}: expected pg, pglite or both`);
  return {
    backends: backend === 'both' ? ['pg', 'pglite'] : [backend as Backend],
    sessions: Math.floor(count('sessions', values.sessions as string, 1)),
    users: Math.floor(count('users', values.users as string, 1)),
    duration: count('duration', values.duration as string, 1),
    warmup: count('warmup', values.warmup as string, 0),
    connections: Math.floor(count('connections', values.connections as string, 1)),
    concurrency: Math.floor(count('concurrency', values.concurrency as string, 1)),
    logLevel: values['log-level'] as string,
    profile: values.profile as boolean,
    serverCpu: values.pin ? 0 : null,
    compare: values.compare as boolean,
    repeat: Math.floor(count('repeat', values.repeat as string, 1)),
    nodeFlags: (values['node-flags'] as string).split(/\s+/).filter((flag) => flag !== ''),
    adminUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

/** A database for one backend: where the seeding connects, and the server's env to reach it. */
interface BenchDatabase {
  open(): Promise<{ db: Kysely<Database>; close(): Promise<void> }>;
  serverEnv: Record<string, string>;
  version: string;
  /** The PostgreSQL backends connected to this database (none for PGlite: it runs in the server). */
  backendPids?: () => Promise<number[]>;
  destroy(): Promise<void>;
}

/** A fresh PostgreSQL database on the admin URL's server, its backends' pids, and its removal. */
async function createPostgresDatabase(adminUrl: string, prefix: string) {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const version = (await admin.query<{ server_version: string }>('show server_version')).rows[0]?.server_version ?? '?';
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    version,
    backendPids: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [
          name,
        ]);
        return rows.map((row) => row.pid);
      } finally {
        await client.end();
      }
    },
    destroy: async () => {
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** Runs CHECKPOINT on the admin URL's server; a role that may not is left to the server's own. */
async function checkpoint(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('checkpoint');
  } catch {
    // Not a superuser (nor pg_checkpoint): the rounds may then meet a checkpoint.
  } finally {
    await client.end();
  }
}

async function createBenchDatabase(backend: Backend, adminUrl: string): Promise<BenchDatabase> {
  if (backend === 'pg') {
    const database = await createPostgresDatabase(adminUrl, 'bench');
    return {
      // Its own small pool without the server's query timeout: the bulk statements take seconds.
      open: async () => {
        const db = new Kysely<Database>({
          dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 1 }) }),
        });
        return { db, close: () => db.destroy() };
      },
      serverEnv: { DATABASE_URL: database.url },
      version: `PostgreSQL ${database.version}`,
      backendPids: database.backendPids,
      destroy: database.destroy,
    };
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-bench-'));
  const pkg = JSON.parse(await readFile(path.join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as {
    version: string;
  };
  return {
    // The embedded database allows one process at a time: the seeding closes it before the server opens it.
    open: async () => {
      const handle = await openDatabase({ databaseUrl: null, dataDir });
      return { db: handle.db, close: () => handle.close() };
    },
    serverEnv: { DATA_DIR: dataDir },
    version: `PGlite ${pkg.version}`,
    destroy: () => rm(dataDir, { recursive: true, force: true }),
  };
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round((performance.now() - started) / 10) / 100;
}

/** `count` distinct tokens of seeded sessions 1..size, drawn uniformly, as requests for the load generator. */
function sessionRequests(size: number, count: number): Array<{ headers: Record<string, string> }> {
  const picked = new Set<number>();
  const wanted = Math.min(count, size);
  while (picked.size < wanted) picked.add(1 + Math.floor(Math.random() * size));
  return [...picked].map((i) => ({ headers: { cookie: `${cookieName}=${sessionToken(i)}` } }));
}

async function runBackend(backend: Backend, options: Options, live: Set<ServerProcess>): Promise<BackendResult> {
  const result: BackendResult = {
    backend,
    seedSeconds: { users: 0, smallSessions: 0, largeSessions: 0 },
    scenarios: [],
    ratios: {},
    targets: [],
    notes: [],
    profiles: [],
  };
  // Two databases, 10 000 sessions and N sessions, each served by its own server, so the two sizes
  // are measured in the same repetitions rather than one after the other.
  const databases: BenchDatabase[] = [];
  const betterAuthDatabase: { destroy(): Promise<void> }[] = [];
  const servers: ServerProcess[] = [];
  try {
    let smallDatabase: BenchDatabase;
    let largeDatabase: BenchDatabase;
    try {
      smallDatabase = await createBenchDatabase(backend, options.adminUrl);
      databases.push(smallDatabase);
      largeDatabase = await createBenchDatabase(backend, options.adminUrl);
      databases.push(largeDatabase);
    } catch (error) {
      result.skipped = `cannot create a database: ${error instanceof Error ? error.message : String(error)}`;
      return result;
    }
    result.notes.push(largeDatabase.version);
    const small = Math.min(smallTable, options.sessions);
    const load = { connections: options.connections, duration: options.duration, warmup: options.warmup };
    const serverEnv = {
      BENCH_ROUTES: '1',
      LOG_LEVEL: options.logLevel,
      // The load comes from one address: limits high enough never to answer 429, but still counted
      // (the upserts stay in the measured path). One trusted proxy lets each sign-in worker present
      // its own address, as separate users would.
      RATE_LIMIT_PER_ADDRESS: '1000000',
      RATE_LIMIT_PER_IDENTIFIER: '1000000',
      RATE_LIMIT_CHALLENGES_PER_ADDRESS: '1000000',
      TRUSTED_PROXIES: '1',
      // Each round revisits the sessions in a burst, then leaves them for the rest of the round (a
      // minute or more): with the default 60 s interval nearly every burst would pay one last_seen_at write per
      // session, which continuous use pays once a minute. The touch is left out of the rounds
      // (docs/performance.md gives its cost); the sign-ins still write their new sessions.
      SESSION_TOUCH_INTERVAL: '3600',
      // The access tokens are minted from session 1, whose secret must not rotate during the run
      // (a rotation hands out a new cookie, which the bench does not follow).
      SESSION_SECRET_ROTATION_AGE: '86400',
    };
    const start = async (nodeFlags: string[], script: string | undefined, env: Record<string, string>) => {
      const server = await startServerProcess(env, { nodeFlags, script, cpu: options.serverCpu ?? undefined });
      live.add(server);
      servers.push(server);
      return server;
    };

    // Seeding: the same users in both; 10 000 sessions in one, N in the other.
    const seed = async (database: BenchDatabase, sessions: number) => {
      const handle = await database.open();
      try {
        const now = new Date();
        await migrateToLatest(handle.db);
        const users = await timed(() => seedUsers(handle.db, options.users, now));
        const seeded = await timed(async () => {
          await seedSessions(handle.db, 1, sessions, options.users, now);
          await analyze(handle.db);
        });
        return { users, seeded };
      } finally {
        await handle.close();
      }
    };
    const smallSeed = await seed(smallDatabase, small);
    result.seedSeconds.users = smallSeed.users;
    result.seedSeconds.smallSessions = smallSeed.seeded;
    log(
      `  ${backend}: seeded ${options.users} users in ${smallSeed.users} s, ${small} sessions in ${smallSeed.seeded} s`,
    );
    const largeSeed = await seed(largeDatabase, options.sessions);
    result.seedSeconds.largeSessions = largeSeed.seeded;
    log(
      `  ${backend}: seeded ${options.sessions.toLocaleString('en')} sessions in ${largeSeed.seeded} s (second database)`,
    );

    // Better Auth's getSession on the same PostgreSQL server with as many sessions (its own database).
    let measureBetterAuth: (() => Promise<ScenarioResult>) | null = null;
    if (options.compare && backend === 'pg') {
      const database = await createPostgresDatabase(options.adminUrl, 'bench_better_auth');
      betterAuthDatabase.push(database);
      const seeded = await timed(() => seedBetterAuth(database.url, options.users, options.sessions));
      log(
        `  Better Auth: seeded ${options.users.toLocaleString('en')} users and ${options.sessions.toLocaleString('en')} sessions in ${seeded} s`,
      );
      const server = await start([], 'bench/compare/better-auth.ts', { DATABASE_URL: database.url });
      const picked = new Set<number>();
      while (picked.size < Math.min(5000, options.sessions))
        picked.add(1 + Math.floor(Math.random() * options.sessions));
      const requests = [...picked].map((i) => ({ headers: { cookie: betterAuthCookie(i) } }));
      const backendPids = database.backendPids;
      measureBetterAuth = () =>
        runLoad(`Better Auth getSession, ${options.sessions.toLocaleString('en')} sessions`, server, {
          ...load,
          path: '/session',
          requests,
          databasePids: backendPids,
        });
    }

    // Every server is started once and waits idle while the others are measured.
    const bareServer = options.compare ? await start([], 'bench/compare/bare-hono.ts', {}) : null;
    // The auth servers run as `npm start` runs them (bundled, with its node flags); the --profile
    // run, file by file.
    const authFlags = [...startScriptFlags(), ...options.nodeFlags];
    const smallServer = await start(authFlags, measuredServerScript, {
      ...serverEnv,
      ...smallDatabase.serverEnv,
    });
    const largeServer = await start(authFlags, measuredServerScript, {
      ...serverEnv,
      ...largeDatabase.serverEnv,
    });
    // The limit of a session check in Node: the same lookup, prepared, straight on pg (PostgreSQL only:
    // PGlite's folder admits one process).
    const rawPgServer =
      options.compare && backend === 'pg'
        ? await start([], 'bench/compare/raw-pg.ts', { DATABASE_URL: largeDatabase.serverEnv.DATABASE_URL as string })
        : null;
    // The same with the lookups pipelined, as the auth server sends them: the limit of its lookup.
    const rawPgPipelinedServer =
      options.compare && backend === 'pg'
        ? await start([], 'bench/compare/raw-pg.ts', {
            DATABASE_URL: largeDatabase.serverEnv.DATABASE_URL as string,
            RAW_PG_PIPELINED: '1',
          })
        : null;
    const token = await mintAccessToken(largeServer, sessionToken(1));
    if (token === null) result.notes.push('access-token route skipped: POST /auth/token is not available');
    // Access tokens live minutes: each run of a token route gets one minted for it, kept for the
    // whole run as a client keeps its token.
    const bearer = async () => ({
      authorization: `Bearer ${(await mintAccessToken(largeServer, sessionToken(1))) ?? token}`,
    });
    // The limit of the access-token route: bare Hono and the ES256 signature check alone, with the
    // server's own public key (its JWKS).
    const jwtLimitServer =
      options.compare && token !== null
        ? await start([], 'bench/compare/jwt-verify.ts', { BENCH_JWK: await signingJwkOf(largeServer, token) })
        : null;

    // The sessions in use: drawn once per table and kept for the whole run, as a steady set of
    // users keeps its sessions, so each one's `last_seen_at` touch comes once per touch interval.
    const smallSample = sessionRequests(small, 5000);
    const largeSample = sessionRequests(options.sessions, 5000);
    const n = options.sessions.toLocaleString('en');
    const scenarios: Array<{ name: string; run: () => Promise<ScenarioResult> }> = [];
    if (bareServer)
      scenarios.push({
        name: 'bare',
        run: () => runLoad('bare Hono (same @hono/node-server)', bareServer, { path: '/hello', ...load }),
      });
    scenarios.push({
      name: 'baseline',
      run: () => runLoad('baseline (no database)', largeServer, { path: '/bench/baseline', ...load }),
    });
    scenarios.push({
      name: 'sessionSmall',
      run: () =>
        runLoad(`GET /auth/session, ${small.toLocaleString('en')} sessions`, smallServer, {
          path: '/auth/session',
          requests: smallSample,
          ...load,
          databasePids: smallDatabase.backendPids,
        }),
    });
    if (options.sessions > small)
      scenarios.push({
        name: 'sessionLarge',
        run: () =>
          runLoad(`GET /auth/session, ${n} sessions`, largeServer, {
            path: '/auth/session',
            requests: largeSample,
            ...load,
            databasePids: largeDatabase.backendPids,
          }),
      });
    if (rawPgServer)
      scenarios.push({
        name: 'rawPg',
        run: () =>
          runLoad(`raw pg lookup, a query per round trip (the issue's reference), ${n} sessions`, rawPgServer, {
            path: '/session',
            requests: largeSample,
            ...load,
            databasePids: largeDatabase.backendPids,
          }),
      });
    if (rawPgPipelinedServer)
      scenarios.push({
        name: 'rawPgPipelined',
        run: () =>
          runLoad(`raw pg lookup, pipelined (the limit), ${n} sessions`, rawPgPipelinedServer, {
            path: '/session',
            requests: largeSample,
            ...load,
            databasePids: largeDatabase.backendPids,
          }),
      });
    if (token !== null)
      scenarios.push({
        name: 'token',
        run: async () =>
          runLoad('access-token route (JWT)', largeServer, {
            path: '/bench/protected',
            headers: await bearer(),
            ...load,
            databasePids: largeDatabase.backendPids,
          }),
      });
    if (token !== null)
      scenarios.push({
        name: 'tokenFresh',
        run: async () =>
          runLoad('access-token route, every call verifying the signature', largeServer, {
            path: '/bench/protected-fresh',
            headers: await bearer(),
            ...load,
            databasePids: largeDatabase.backendPids,
          }),
      });
    if (token !== null && jwtLimitServer)
      scenarios.push({
        name: 'tokenLimit',
        run: () =>
          runLoad('ES256 check on bare Hono (the token limit)', jwtLimitServer, {
            path: '/verify',
            headers: { authorization: `Bearer ${token}` },
            ...load,
          }),
      });
    if (measureBetterAuth) scenarios.push({ name: 'betterAuth', run: measureBetterAuth });

    // The seeding's writes flushed before anything is measured (PostgreSQL; a superuser may): else
    // the checkpoint that a million fresh rows call for lands in the rounds, on whichever scenario runs.
    if (backend === 'pg') await checkpoint(options.adminUrl);

    // Interleaved repetitions: every scenario once per round, then the median of the rounds, so a
    // burst of load elsewhere on the machine lowers one sample of each instead of one whole scenario.
    const samples = new Map<string, ScenarioResult[]>();
    for (let round = 1; round <= options.repeat; round++) {
      for (const scenario of scenarios) {
        const sample = await scenario.run();
        samples.set(scenario.name, [...(samples.get(scenario.name) ?? []), sample]);
        log(`  ${options.repeat > 1 ? `[${round}/${options.repeat}] ` : ''}${line(sample)}`);
      }
    }
    const measured = new Map<string, ScenarioResult>();
    for (const [name, list] of samples) measured.set(name, medianOf(list));
    if (options.repeat > 1) log(`  medians of ${options.repeat} rounds:`);
    for (const scenario of measured.values()) {
      result.scenarios.push(scenario);
      if (options.repeat > 1) log(`  ${line(scenario)}`);
    }

    const signIns = await runSignIns(largeServer, {
      concurrency: options.concurrency,
      duration: options.duration,
      warmup: options.warmup,
      databasePids: largeDatabase.backendPids,
    });
    result.scenarios.push(signIns);
    log(`  ${line(signIns)}`);

    if (options.profile) {
      // The large server is stopped first: on PGlite its data folder admits one process at a time.
      await largeServer.stop();
      live.delete(largeServer);
      const profiled = async (label: string, work: (server: ServerProcess) => Promise<unknown>) => {
        const profileDir = path.join(resultsDir, `profile-${backend}-${Date.now()}`);
        const spawnedAt = performance.now();
        const server = await start(['--cpu-prof', `--cpu-prof-dir=${profileDir}`], undefined, {
          ...serverEnv,
          ...largeDatabase.serverEnv,
        });
        const skipMs = performance.now() - spawnedAt + options.warmup * 1000;
        await work(server);
        await server.stop();
        live.delete(server);
        const files = (await readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile'));
        if (!files[0]) return;
        const file = path.join(profileDir, files[0]);
        result.profiles.push(file);
        log(`\n  CPU profile of the server under ${label} (${file}):\n${await summarizeProfile(file, { skipMs })}`);
      };
      await profiled('GET /auth/session', (server) =>
        runLoad('GET /auth/session (profiled)', server, {
          path: '/auth/session',
          requests: largeSample,
          ...load,
        }),
      );
      await profiled('sign-ins', (server) =>
        runSignIns(server, { concurrency: options.concurrency, duration: options.duration, warmup: options.warmup }),
      );
    }

    const failed = result.scenarios.filter((s) => s.failures > 0);
    for (const s of failed)
      result.notes.push(`${s.name}: ${s.failures} of ${s.total} requests failed ${JSON.stringify(s.statuses ?? {})}`);

    const get = (name: string) => measured.get(name) ?? null;
    const [bare, betterAuth, rawPg, rawPgPipelined, tokenLimit, tokenFresh] = [
      get('bare'),
      get('betterAuth'),
      get('rawPg'),
      get('rawPgPipelined'),
      get('tokenLimit'),
      get('tokenFresh'),
    ];
    const largeName = samples.has('sessionLarge') ? 'sessionLarge' : 'sessionSmall';
    const sessionLarge = get(largeName);
    // A ratio of two scenarios is the median of their ratios round by round: the two were measured
    // moments apart, so a change in the machine's speed between rounds (a VM's neighbours) cancels.
    const ratio = (a: string, b: string): number | null => {
      const over = samples.get(b) ?? [];
      const paired = (samples.get(a) ?? [])
        .map((sample, i) => {
          const base = over[i];
          return base && base.rps > 0 ? sample.rps / base.rps : null;
        })
        .filter((x): x is number => x !== null);
      return paired.length > 0 ? median(paired) : null;
    };
    result.ratios = {
      baselineToBare: ratio('baseline', 'bare'),
      sessionToBare: ratio(largeName, 'bare'),
      sessionToBetterAuth: ratio(largeName, 'betterAuth'),
      tokenToBare: ratio('token', 'bare'),
      sessionToBaseline: ratio(largeName, 'baseline'),
      largeToSmall: options.sessions > small ? ratio('sessionLarge', 'sessionSmall') : null,
      rawPgToBare: ratio('rawPg', 'bare'),
      rawPgToBetterAuth: ratio('rawPg', 'betterAuth'),
      sessionToRawPg: ratio(largeName, 'rawPg'),
      rawPgPipelinedToBare: ratio('rawPgPipelined', 'bare'),
      rawPgPipelinedToBetterAuth: ratio('rawPgPipelined', 'betterAuth'),
      sessionToRawPgPipelined: ratio(largeName, 'rawPgPipelined'),
      tokenLimitToBare: ratio('tokenLimit', 'bare'),
      tokenFreshToBare: ratio('tokenFresh', 'bare'),
      tokenFreshToTokenLimit: ratio('tokenFresh', 'tokenLimit'),
    };
    const cpu = (ms: number | undefined) => (ms === undefined ? '?' : `${(ms * 1000).toFixed(0)} us`);
    // One note per raw pg lookup: how it compares with bare Hono and Better Auth, and the session route with it.
    const lookupNote = (label: string, lookup: ScenarioResult | null, key: 'rawPg' | 'rawPgPipelined') => {
      if (!lookup || !bare || !sessionLarge) return;
      const ratios = result.ratios;
      const suffix = key === 'rawPg' ? 'RawPg' : 'RawPgPipelined';
      result.notes.push(
        `${label} runs at ${ratios[`${key}ToBare`]?.toFixed(2)}x bare Hono${betterAuth ? ` and ${ratios[`${key}ToBetterAuth`]?.toFixed(2)}x Better Auth` : ''} (server ${cpu(lookup.serverCpuMs)}, PostgreSQL ${cpu(lookup.databaseCpuMs)} per request); GET /auth/session at ${ratios[`sessionTo${suffix}`]?.toFixed(2)}x it`,
      );
    };
    lookupNote('reference: the raw pg lookup, a query per round trip,', rawPg, 'rawPg');
    lookupNote('limit: the raw pg lookup, pipelined,', rawPgPipelined, 'rawPgPipelined');
    // The session targets' limit: the pipelined raw lookup when measured, else the plain one.
    const limit = rawPgPipelined ?? rawPg;
    const limitToBare = (rawPgPipelined ? result.ratios.rawPgPipelinedToBare : result.ratios.rawPgToBare) ?? null;
    const limitToBetterAuth =
      (rawPgPipelined ? result.ratios.rawPgPipelinedToBetterAuth : result.ratios.rawPgToBetterAuth) ?? null;
    if (tokenLimit && bare && tokenFresh) {
      const us = (ms: number) => `${(ms * 1000).toFixed(0)} us`;
      result.notes.push(
        `limit: an ES256 signature check alone on bare Hono runs at ${result.ratios.tokenLimitToBare?.toFixed(2)}x bare Hono (server ${us(tokenLimit.serverCpuMs)} per request); the access-token route verifying every call at ${result.ratios.tokenFreshToTokenLimit?.toFixed(2)}x it (${result.ratios.tokenFreshToBare?.toFixed(2)}x bare Hono); a client's repeated token, remembered by the verifier, skips the signature check`,
      );
    }
    const r = result.ratios;
    // The auth server's own memory: not the comparison servers'.
    const peakRss = Math.max(
      ...result.scenarios
        .filter((s) => s !== bare && s !== betterAuth && s !== rawPg && s !== rawPgPipelined && s !== tokenLimit)
        .map((s) => s.rssMb),
    );
    // `limit`: the same figure of the limit scenario (the pipelined raw pg lookup), when there is one: a target
    // that the limit misses too in this run is reported as beyond it, with the limit's value.
    const target = (
      name: string,
      value: number | null,
      pass: (x: number) => boolean,
      show: (x: number) => string = (x) => `${x.toFixed(2)}x`,
      limit: number | null = null,
    ) => {
      if (value === null || value === undefined) {
        result.targets.push({ target: name, value: 'not measured', pass: false, verdict: 'fail' });
        return;
      }
      const met = pass(value);
      const beyondLimit = !met && limit !== null && limit !== undefined && !pass(limit);
      result.targets.push({
        target: name,
        value: show(value),
        pass: met,
        ...(limit === null || limit === undefined ? {} : { limit: show(limit) }),
        verdict: met ? 'pass' : beyondLimit ? 'limit' : 'fail',
      });
    };
    const us = (x: number) => `${(x * 1000).toFixed(0)} us`;
    target('baseline route >= 0.75x bare Hono (req/s)', r.baselineToBare ?? null, (x) => x >= 0.75);
    target(
      `GET /auth/session (${n} sessions) >= 0.25x bare Hono`,
      r.sessionToBare ?? null,
      (x) => x >= 0.25,
      undefined,
      limitToBare,
    );
    target(
      `GET /auth/session (${n} sessions) >= 8x Better Auth getSession`,
      r.sessionToBetterAuth ?? null,
      (x) => x >= 8,
      undefined,
      limitToBetterAuth,
    );
    target(
      'session check: server CPU <= 100 us',
      sessionLarge?.serverCpuMs ?? null,
      (x) => x <= 0.1,
      us,
      limit?.serverCpuMs ?? null,
    );
    target(
      'session check: PostgreSQL CPU <= 80 us',
      sessionLarge?.databaseCpuMs ?? null,
      (x) => x <= 0.08,
      us,
      limit?.databaseCpuMs ?? null,
    );
    target(`${n} vs ${small.toLocaleString('en')} sessions >= 0.9`, r.largeToSmall ?? null, (x) => x >= 0.9);
    target('access-token route >= 0.4x bare Hono', r.tokenToBare ?? null, (x) => x >= 0.4);
    target(
      'sign-in: CPU (server + PostgreSQL) <= 6 ms',
      signIns.serverCpuMs + (signIns.databaseCpuMs ?? 0),
      (x) => x <= 6,
      (x) => `${x.toFixed(2)} ms`,
    );
    target(
      'server RSS under load <= 120 MB',
      peakRss,
      (x) => x <= 120,
      (x) => `${x.toFixed(0)} MB`,
    );
    target(
      'no failed requests',
      failed.reduce((sum, s) => sum + s.failures, 0),
      (x) => x === 0,
      (x) => String(x),
    );
  } finally {
    // All at once: each may take a few seconds to finish its shutdown.
    await Promise.all(
      servers.map(async (server) => {
        await server.stop();
        live.delete(server);
      }),
    );
    for (const database of [...databases, ...betterAuthDatabase]) await database.destroy();
  }
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * One result from the rounds of a scenario: the median of each rate, latency and CPU cost (taken
 * separately), the highest memory, and the failures of all rounds together.
 */
function medianOf(samples: ScenarioResult[]): ScenarioResult {
  const first = samples[0] as ScenarioResult;
  const database = samples.map((s) => s.databaseCpuMs).filter((x): x is number => x !== undefined);
  const statuses: Record<string, number> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.statuses ?? {})) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    name: first.name,
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    failures: samples.reduce((sum, s) => sum + s.failures, 0),
    total: samples.reduce((sum, s) => sum + s.total, 0),
    ...(first.statuses ? { statuses } : {}),
    rssMb: Math.max(...samples.map((s) => s.rssMb)),
    serverCpu: median(samples.map((s) => s.serverCpu)),
    serverCpuMs: median(samples.map((s) => s.serverCpuMs)),
    ...(database.length > 0 ? { databaseCpuMs: median(database) } : {}),
  };
}

async function mintAccessToken(server: ServerProcess, token: string): Promise<string | null> {
  const response = await fetch(`${server.url}/auth/token`, {
    method: 'POST',
    headers: { Origin: server.origin, 'Content-Type': 'application/json', cookie: `${cookieName}=${token}` },
    body: '{}',
  });
  if (response.status !== 200) return null;
  const body = (await response.json()) as { access_token?: string };
  return body.access_token ?? null;
}

/** The public JWK the access token was signed with, from the server's JWKS (for the token limit). */
async function signingJwkOf(server: ServerProcess, accessToken: string): Promise<string> {
  const { kid } = JSON.parse(Buffer.from(accessToken.split('.')[0] ?? '', 'base64url').toString()) as { kid?: string };
  const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid?: string }> };
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`the JWKS has no key ${kid}`);
  return JSON.stringify(jwk);
}

function line(s: ScenarioResult): string {
  const database = s.databaseCpuMs === undefined ? '' : `, database ${s.databaseCpuMs.toFixed(2)}`;
  return `${s.name.padEnd(40)} ${s.rps.toFixed(0).padStart(7)} req/s  p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}  ${s.rssMb.toFixed(0)} MB  cpu ms/req: server ${s.serverCpuMs.toFixed(2)}${database}${s.failures ? `  FAILED ${s.failures}` : ''}`;
}

function fmt(ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`.padStart(8);
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

function table(results: BackendResult[]): string {
  const rows = [
    '| backend | scenario | requests/s | p50 | p99 | server RSS | server CPU (cores) | CPU ms per request: server / PostgreSQL |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const s of r.scenarios) {
      const cpu = `${s.serverCpuMs.toFixed(2)}${s.databaseCpuMs === undefined ? '' : ` / ${s.databaseCpuMs.toFixed(2)}`}`;
      rows.push(
        `| ${r.backend} | ${s.name} | ${s.rps.toFixed(0)} | ${s.p50} ms | ${s.p99} ms | ${s.rssMb.toFixed(0)} MB | ${s.serverCpu.toFixed(2)} | ${cpu} |`,
      );
    }
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const started = performance.now();
  const live = new Set<ServerProcess>();
  const interrupt = () => {
    for (const server of live) server.child.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  // The measured server runs on core 0 (options.serverCpu); this process, the load generator, on the last.
  if (options.serverCpu !== null)
    spawnSync('taskset', ['-pc', String(os.cpus().length - 1), String(process.pid)], { stdio: 'ignore' });

  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadGenerator,
  };
  log(
    `bench: ${options.backends.join(' + ')}, ${options.users.toLocaleString('en')} users, ${options.sessions.toLocaleString('en')} sessions, ${options.duration} s per scenario, ${options.connections} connections (${loadGenerator}), ${options.concurrency} concurrent sign-ins`,
  );
  log(
    `machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  if (machine.loadAverageAtStart[0]! > machine.cpus * 0.5)
    log('warning: the machine is busy; the numbers will be low and noisy');

  const results: BackendResult[] = [];
  for (const backend of options.backends) {
    log(`\n${backend}:`);
    const result = await runBackend(backend, options, live);
    if (result.skipped) log(`  skipped: ${result.skipped}`);
    results.push(result);
  }
  const seconds = Math.round((performance.now() - started) / 100) / 10;

  log(`\n${table(results)}\n`);
  for (const r of results) {
    if (r.skipped) continue;
    const shown = Object.entries(r.ratios).map(
      ([name, x]) => `${name} ${x === null || x === undefined ? 'n/a' : x.toFixed(2)}`,
    );
    log(
      `${r.backend}: ${shown.join(', ')}; seeding ${r.seedSeconds.users} s users, ${r.seedSeconds.smallSessions} + ${r.seedSeconds.largeSessions} s sessions`,
    );
    for (const t of r.targets)
      log(
        `  ${t.verdict.toUpperCase().padEnd(5)} ${t.target}: ${t.value}${t.limit === undefined ? '' : t.verdict === 'limit' ? ` (beyond the measured limit: the raw pg lookup, pipelined, ${t.limit})` : ` (the limit, the raw pg lookup pipelined: ${t.limit})`}${r.backend === 'pglite' ? ' (targets are set for PostgreSQL)' : ''}`,
      );
    for (const note of r.notes) log(`  note: ${note}`);
  }
  log(
    `\ntotal ${seconds} s, load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );

  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ options: { ...options, adminUrl: undefined }, machine, seconds, loadAverageAtEnd: os.loadavg(), results }, null, 2)}\n`,
  );
  log(`results: ${path.relative(root, file)}`);
  process.off('SIGINT', interrupt);
}

await main();
