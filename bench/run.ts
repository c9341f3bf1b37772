/**
 * `npm run bench`: the server's throughput on PostgreSQL and on PGlite, as ratios to a baseline
 * route measured in the same run (README "Performance").
 *
 *   npm run bench -- [--backend=pg|pglite|both] [--sessions=1000000] [--duration=6] [--warmup=1]
 *                    [--connections=50] [--concurrency=16] [--users=100000] [--log-level=silent]
 *                    [--profile]
 *
 * For each backend: a fresh database (PostgreSQL: `bench_<random>` on BENCH_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres, dropped at the end; PGlite: a temporary DATA_DIR),
 * migrations, set-based seeding (bench/seed.ts), then the real server (`server/main.ts`) as a child
 * process with BENCH_ROUTES=1, measured with autocannon from this process over loopback.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../server/db/database.js';
import { migrateToLatest } from '../server/db/migrate.js';
import type { Database } from '../server/db/schema.js';
import { summarizeProfile } from './profile.js';
import { runLoad, runSignIns, type ScenarioResult } from './scenarios.js';
import { analyze, seedSessions, seedUsers, sessionToken } from './seed.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

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
  adminUrl: string;
}

interface BackendResult {
  backend: Backend;
  skipped?: string;
  seedSeconds: { users: number; smallSessions: number; largeSessions: number };
  scenarios: ScenarioResult[];
  ratios: { sessionToBaseline: number | null; tokenToBaseline: number | null; largeToSmall: number | null };
  targets: Array<{ target: string; value: string; pass: boolean }>;
  notes: string[];
  profile?: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'both' },
      sessions: { type: 'string', default: '1000000' },
      users: { type: 'string', default: '100000' },
      duration: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      concurrency: { type: 'string', default: '16' },
      'log-level': { type: 'string', default: 'silent' },
      profile: { type: 'boolean', default: false },
    },
  });
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

async function createBenchDatabase(backend: Backend, adminUrl: string): Promise<BenchDatabase> {
  if (backend === 'pg') {
    const name = `bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('show server_version')).rows[0]?.server_version ?? '?';
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      // Its own small pool without the server's query timeout: the bulk statements take seconds.
      open: async () => {
        const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 1 }) }) });
        return { db, close: () => db.destroy() };
      },
      serverEnv: { DATABASE_URL: url.toString() },
      version: `PostgreSQL ${version}`,
      backendPids: async () => {
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        try {
          const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [name]);
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
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-bench-'));
  const pkg = JSON.parse(await readFile(path.join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
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

/** `count` distinct tokens of seeded sessions 1..size, drawn uniformly, as autocannon requests. */
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
    ratios: { sessionToBaseline: null, tokenToBaseline: null, largeToSmall: null },
    targets: [],
    notes: [],
  };
  let database: BenchDatabase;
  try {
    database = await createBenchDatabase(backend, options.adminUrl);
  } catch (error) {
    result.skipped = `cannot create a database: ${error instanceof Error ? error.message : String(error)}`;
    return result;
  }
  result.notes.push(database.version);
  const small = Math.min(smallTable, options.sessions);
  const load = { connections: options.connections, duration: options.duration, warmup: options.warmup, databasePids: database.backendPids };
  const serverEnv = {
    ...database.serverEnv,
    BENCH_ROUTES: '1',
    LOG_LEVEL: options.logLevel,
    // The load comes from one address: limits high enough never to answer 429, but still counted
    // (the upserts stay in the measured path). One trusted proxy lets each sign-in worker present
    // its own address, as separate users would.
    RATE_LIMIT_PER_ADDRESS: '1000000',
    RATE_LIMIT_PER_IDENTIFIER: '1000000',
    RATE_LIMIT_CHALLENGES_PER_ADDRESS: '1000000',
    TRUSTED_PROXIES: '1',
  };
  const start = async (nodeFlags: string[] = []) => {
    const server = await startServerProcess(serverEnv, nodeFlags);
    live.add(server);
    return server;
  };
  const stop = async (server: ServerProcess) => {
    await server.stop();
    live.delete(server);
  };

  try {
    // Phase 1: 10 000 sessions.
    let handle = await database.open();
    const now = new Date();
    await migrateToLatest(handle.db);
    result.seedSeconds.users = await timed(() => seedUsers(handle.db, options.users, now));
    result.seedSeconds.smallSessions = await timed(async () => {
      await seedSessions(handle.db, 1, small, options.users, now);
      await analyze(handle.db);
    });
    await handle.close();
    log(`  ${backend}: seeded ${options.users} users in ${result.seedSeconds.users} s, ${small} sessions in ${result.seedSeconds.smallSessions} s`);

    let server = await start();
    const sessionSmall = await runLoad(`GET /auth/session, ${small.toLocaleString('en')} sessions`, server, {
      path: '/auth/session',
      requests: sessionRequests(small, 5000),
      ...load,
    });
    result.scenarios.push(sessionSmall);
    log(`  ${line(sessionSmall)}`);
    await stop(server);

    // Phase 2: N sessions.
    if (options.sessions > small) {
      handle = await database.open();
      const later = new Date();
      result.seedSeconds.largeSessions = await timed(async () => {
        await seedSessions(handle.db, small + 1, options.sessions, options.users, later);
        // The first rows were last seen at phase 1; bring them level so no request pays the touch write.
        await sql`update session set last_seen_at = ${later} where last_seen_at < ${later}`.execute(handle.db);
        await analyze(handle.db);
      });
      await handle.close();
      log(`  ${backend}: seeded ${(options.sessions - small).toLocaleString('en')} more sessions in ${result.seedSeconds.largeSessions} s`);
    }

    server = await start();
    const baseline = await runLoad('baseline (no database)', server, { path: '/bench/baseline', ...load });
    result.scenarios.push(baseline);
    log(`  ${line(baseline)}`);

    const sessionLarge =
      options.sessions > small
        ? await runLoad(`GET /auth/session, ${options.sessions.toLocaleString('en')} sessions`, server, {
            path: '/auth/session',
            requests: sessionRequests(options.sessions, 5000),
            ...load,
          })
        : sessionSmall;
    if (sessionLarge !== sessionSmall) {
      result.scenarios.push(sessionLarge);
      log(`  ${line(sessionLarge)}`);
    }

    const token = await mintAccessToken(server, sessionToken(1));
    let protectedRoute: ScenarioResult | null = null;
    if (token === null) {
      result.notes.push('access-token route skipped: POST /auth/token is not available');
    } else {
      protectedRoute = await runLoad('access-token route (JWT)', server, { path: '/bench/protected', headers: { authorization: `Bearer ${token}` }, ...load });
      result.scenarios.push(protectedRoute);
      log(`  ${line(protectedRoute)}`);
    }

    const signIns = await runSignIns(server, { concurrency: options.concurrency, duration: options.duration, warmup: options.warmup, databasePids: database.backendPids });
    result.scenarios.push(signIns);
    log(`  ${line(signIns)}`);
    await stop(server);

    if (options.profile) {
      const profileDir = path.join(resultsDir, `profile-${backend}-${Date.now()}`);
      const spawnedAt = performance.now();
      server = await start(['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
      const skipMs = performance.now() - spawnedAt + options.warmup * 1000;
      await runLoad('GET /auth/session (profiled)', server, { path: '/auth/session', requests: sessionRequests(options.sessions, 5000), ...load });
      await stop(server);
      const files = (await readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile'));
      if (files[0]) {
        result.profile = path.join(profileDir, files[0]);
        log(`\n  CPU profile of the server under GET /auth/session (${result.profile}):\n${await summarizeProfile(result.profile, { skipMs })}`);
      }
    }

    const failed = result.scenarios.filter((s) => s.failures > 0);
    for (const s of failed) result.notes.push(`${s.name}: ${s.failures} of ${s.total} requests failed ${JSON.stringify(s.statuses ?? {})}`);

    result.ratios = {
      sessionToBaseline: sessionLarge.rps / baseline.rps,
      tokenToBaseline: protectedRoute ? protectedRoute.rps / baseline.rps : null,
      largeToSmall: options.sessions > small ? sessionLarge.rps / sessionSmall.rps : null,
    };
    const peakRss = Math.max(...result.scenarios.map((s) => s.rssMb));
    const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
    result.targets.push({ target: 'GET /auth/session >= 25 % of baseline', value: pct(result.ratios.sessionToBaseline!), pass: result.ratios.sessionToBaseline! >= 0.25 });
    result.targets.push({ target: 'GET /auth/session p99 < 25 ms', value: `${sessionLarge.p99} ms`, pass: sessionLarge.p99 < 25 });
    if (result.ratios.tokenToBaseline !== null) {
      result.targets.push({ target: 'access-token route >= 30 % of baseline', value: pct(result.ratios.tokenToBaseline), pass: result.ratios.tokenToBaseline >= 0.3 });
    }
    if (result.ratios.largeToSmall !== null) {
      result.targets.push({ target: `${options.sessions.toLocaleString('en')} vs ${small.toLocaleString('en')} sessions >= 0.9`, value: result.ratios.largeToSmall.toFixed(2), pass: result.ratios.largeToSmall >= 0.9 });
    }
    result.targets.push({ target: '>= 300 sign-ins/s', value: `${signIns.rps.toFixed(0)}/s`, pass: signIns.rps >= 300 });
    result.targets.push({ target: 'server memory < 200 MB', value: `${peakRss.toFixed(0)} MB`, pass: peakRss < 200 });
    result.targets.push({ target: 'no failed requests', value: String(failed.reduce((n, s) => n + s.failures, 0)), pass: failed.length === 0 });
  } finally {
    for (const server of live) await stop(server);
    await database.destroy();
  }
  return result;
}

/** Mints an access token for a seeded session through `POST /auth/token`; `null` when the route is absent. */
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
      rows.push(`| ${r.backend} | ${s.name} | ${s.rps.toFixed(0)} | ${s.p50} ms | ${s.p99} ms | ${s.rssMb.toFixed(0)} MB | ${s.serverCpu.toFixed(2)} | ${cpu} |`);
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

  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
  log(`bench: ${options.backends.join(' + ')}, ${options.users.toLocaleString('en')} users, ${options.sessions.toLocaleString('en')} sessions, ${options.duration} s per scenario, ${options.connections} connections, ${options.concurrency} concurrent sign-ins`);
  log(`machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);
  if (machine.loadAverageAtStart[0]! > machine.cpus * 0.5) log('warning: the machine is busy; the numbers will be low and noisy');

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
    const ratio = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
    log(`${r.backend}: session/baseline ${ratio(r.ratios.sessionToBaseline)}, token/baseline ${ratio(r.ratios.tokenToBaseline)}, ${options.sessions.toLocaleString('en')}/${smallTable.toLocaleString('en')} sessions ${ratio(r.ratios.largeToSmall)}; seeding ${r.seedSeconds.users} s users, ${r.seedSeconds.smallSessions} + ${r.seedSeconds.largeSessions} s sessions`);
    for (const t of r.targets) log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.value}${r.backend === 'pglite' ? ' (targets are set for PostgreSQL)' : ''}`);
    for (const note of r.notes) log(`  note: ${note}`);
  }
  log(`\ntotal ${seconds} s, load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({ options: { ...options, adminUrl: undefined }, machine, seconds, loadAverageAtEnd: os.loadavg(), results }, null, 2)}\n`);
  log(`results: ${path.relative(root, file)}`);
  process.off('SIGINT', interrupt);
}

await main();
