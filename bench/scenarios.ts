import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../test/helpers/authenticator.js';
import { cpuSecondsOf, type ServerProcess, sampleProcess } from './server-process.js';

export interface ScenarioResult {
  name: string;
  /** Completed requests (or sign-ins) per second. */
  rps: number;
  p50: number;
  p99: number;
  /** Requests whose answer was not the expected status, plus connection errors and timeouts. */
  failures: number;
  total: number;
  /** Answers by status code, plus `errors` (connection errors) and `timeouts`. */
  statuses?: Record<string, number>;
  /** Peak resident memory of the server process during the scenario, MB. */
  rssMb: number;
  /** Server CPU during the scenario, in cores (2 = both cores of this machine). */
  serverCpu: number;
  /** Server CPU time per completed request, ms: steadier than requests/s on a busy machine. */
  serverCpuMs: number;
  /** PostgreSQL backend CPU time per completed request, ms (PostgreSQL server only). */
  databaseCpuMs?: number;
  note?: string;
}

export interface LoadOptions {
  path: string;
  /** Requests to cycle through (each with its own headers); default one plain GET of `path`. */
  requests?: Array<{ headers?: Record<string, string> }>;
  headers?: Record<string, string>;
  connections: number;
  duration: number;
  warmup: number;
  /** The PostgreSQL backends serving the server, to charge their CPU time to the scenario. */
  databasePids?: () => Promise<number[]>;
}

/** The load generator: `wrk` (C, one thread) when installed, else autocannon (Node). */
export const loadGenerator: 'wrk' | 'autocannon' =
  spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error === undefined ? 'wrk' : 'autocannon';

/** What one load run gives back, whichever generator ran it. */
interface LoadRun {
  total: number;
  seconds: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  failures: number;
  statuses: Record<string, number>;
}

/**
 * Drives one GET route (loopback, one request at a time per connection) after a discarded warm-up.
 * With `wrk`, as the issue's own measurements were made: a C load generator on one core has room to
 * spare even against bare Hono, where autocannon, at 45 to 60 thousand requests per second, measured
 * its own limit as much as the server's.
 */
export async function runLoad(name: string, server: ServerProcess, options: LoadOptions): Promise<ScenarioResult> {
  const drive = loadGenerator === 'wrk' ? wrkRun : autocannonRun;
  if (options.warmup > 0) await drive(server, options, options.warmup);
  const database = await measureDatabaseCpu(options.databasePids);
  const sampler = sampleProcess(server.pid);
  const run = await drive(server, options, options.duration);
  sampler.stop();
  const databaseSeconds = await database.stop();
  return {
    name,
    rps: run.total / run.seconds,
    p50: run.p50,
    p99: run.p99,
    failures: run.failures,
    total: run.total,
    statuses: run.statuses,
    rssMb: sampler.peakRssMb(),
    serverCpu: sampler.cpuCores(),
    serverCpuMs: perRequest(sampler.cpuSeconds(), run.total),
    ...(databaseSeconds === null ? {} : { databaseCpuMs: perRequest(databaseSeconds, run.total) }),
  };
}

async function autocannonRun(server: ServerProcess, options: LoadOptions, duration: number): Promise<LoadRun> {
  const result = await autocannon({
    url: `${server.url}${options.path}`,
    connections: options.connections,
    pipelining: 1,
    headers: options.headers,
    requests: options.requests?.map((request) => ({
      method: 'GET' as const,
      path: options.path,
      headers: { ...options.headers, ...request.headers },
    })),
    duration,
  });
  const statuses: Record<string, number> = { errors: result.errors, timeouts: result.timeouts };
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statuses[code] = (stat as { count: number }).count;
  return {
    total: result.requests.total,
    seconds: result.duration || duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    // autocannon counts a timeout among the errors too.
    failures: result.non2xx + result.errors,
    statuses,
  };
}

/** A Lua long string holding `text` (a level of `=` that `text` does not contain). */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

/**
 * One `wrk -t1` run: a Lua script cycles through the requests' headers (a connection's requests in
 * turn, as autocannon does) and prints the summary as JSON at the end.
 */
async function wrkRun(server: ServerProcess, options: LoadOptions, duration: number): Promise<LoadRun> {
  const headerSets = (options.requests ?? [{}]).map((request) => ({ ...options.headers, ...request.headers }));
  const table = headerSets
    .map(
      (headers) =>
        `{${Object.entries(headers)
          .map(([k, v]) => `[ ${luaString(k)} ]=${luaString(v)}`)
          .join(',')}}`,
    )
    .join(',\n');
  const script = `local reqs = {${table}}
local path = ${luaString(options.path)}
local i = 0
request = function()
  i = i + 1
  if i > #reqs then i = 1 end
  return wrk.format("GET", path, reqs[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.1f,"p99":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-wrk-'));
  try {
    const file = path.join(dir, 'load.lua');
    await writeFile(file, script);
    // wrk takes whole seconds.
    const seconds = Math.max(1, Math.round(duration));
    const args = ['-t1', `-c${options.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', file, server.url];
    const output = await new Promise<string>((resolve, reject) => {
      execFile('wrk', args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
        error ? reject(new Error(`wrk failed: ${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    const line = output.split('\n').find((l) => l.startsWith('WRK '));
    if (line === undefined) throw new Error(`wrk printed no summary:\n${output}`);
    const summary = JSON.parse(line.slice(4)) as Record<string, number>;
    const at = (key: string) => summary[key] ?? 0;
    const errors = at('connect') + at('read') + at('write');
    return {
      total: at('requests'),
      seconds: at('us') / 1e6,
      p50: at('p50') / 1000,
      p99: at('p99') / 1000,
      failures: at('status') + errors + at('timeout'),
      statuses: { non2xx: at('status'), errors, timeouts: at('timeout') },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SignInOptions {
  /** Sign-ins in flight at once; one registered passkey per worker keeps its counter strictly increasing. */
  concurrency: number;
  duration: number;
  warmup: number;
  databasePids?: () => Promise<number[]>;
}

/**
 * Complete usernameless sign-ins per second: each iteration is `POST /auth/login/options` then
 * `POST /auth/login/verify` with a freshly signed assertion from the software authenticator. Every
 * worker signs with its own passkey (registered through the API first), so each counter only goes
 * up, and sends its own `X-Forwarded-For` address (the server trusts one proxy for this run), so
 * the workers look like separate clients to the rate limits, as real users do.
 */
export async function runSignIns(server: ServerProcess, options: SignInOptions): Promise<ScenarioResult> {
  const authenticator = createSoftwareAuthenticator({ origin: server.origin });
  const credentials: string[] = [];
  for (let worker = 0; worker < options.concurrency; worker++) {
    const headers = jsonHeaders(server, worker);
    const username = `bench_signin_${worker}_${Date.now().toString(36)}`;
    const begun = await fetch(`${server.url}/auth/register/options`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ username }),
    });
    if (begun.status !== 200) throw new Error(`register/options answered ${begun.status}: ${await begun.text()}`);
    const registration = authenticator.createCredential(await begun.json());
    const finished = await fetch(`${server.url}/auth/register/verify`, {
      method: 'POST',
      headers,
      body: JSON.stringify(registration),
    });
    if (finished.status !== 201)
      throw new Error(`register/verify answered ${finished.status}: ${await finished.text()}`);
    credentials.push(registration.id);
  }

  const run = async (seconds: number) => {
    const latencies: number[] = [];
    let failures = 0;
    const deadline = performance.now() + seconds * 1000;
    const startedAt = performance.now();
    await Promise.all(
      credentials.map(async (credentialId, worker) => {
        const headers = jsonHeaders(server, worker);
        while (performance.now() < deadline) {
          const started = performance.now();
          if (await signIn(server, authenticator, credentialId, headers)) latencies.push(performance.now() - started);
          else failures++;
        }
      }),
    );
    return { latencies, failures, seconds: (performance.now() - startedAt) / 1000 };
  };

  if (options.warmup > 0) await run(options.warmup);
  const database = await measureDatabaseCpu(options.databasePids);
  const sampler = sampleProcess(server.pid);
  const { latencies, failures, seconds } = await run(options.duration);
  sampler.stop();
  const databaseSeconds = await database.stop();
  latencies.sort((a, b) => a - b);
  return {
    name: 'sign-in (options + verify)',
    rps: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    failures,
    total: latencies.length + failures,
    rssMb: sampler.peakRssMb(),
    serverCpu: sampler.cpuCores(),
    serverCpuMs: perRequest(sampler.cpuSeconds(), latencies.length),
    ...(databaseSeconds === null ? {} : { databaseCpuMs: perRequest(databaseSeconds, latencies.length) }),
  };
}

async function signIn(
  server: ServerProcess,
  authenticator: SoftwareAuthenticator,
  credentialId: string,
  headers: Record<string, string>,
): Promise<boolean> {
  const begun = await fetch(`${server.url}/auth/login/options`, { method: 'POST', headers, body: '{}' });
  if (begun.status !== 200) {
    await begun.body?.cancel();
    return false;
  }
  const assertion = authenticator.getAssertion(await begun.json(), { credentialId });
  const finished = await fetch(`${server.url}/auth/login/verify`, {
    method: 'POST',
    headers,
    body: JSON.stringify(assertion),
  });
  await finished.body?.cancel();
  return finished.status === 200;
}

function jsonHeaders(server: ServerProcess, worker: number): Record<string, string> {
  return {
    Origin: server.origin,
    'Content-Type': 'application/json',
    'X-Forwarded-For': `10.77.${worker >> 8}.${worker & 255}`,
  };
}

function perRequest(seconds: number, requests: number): number {
  return requests > 0 ? Math.round((seconds * 1000 * 1000) / requests) / 1000 : 0;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
}

/**
 * CPU time of the PostgreSQL backends serving a database while a scenario runs, in seconds (`null`
 * without PostgreSQL). Per backend: the growth of its CPU time, or all of it for a backend that
 * connected during the scenario; a backend that left takes its last reading with it, so none is
 * counted below zero.
 */
async function measureDatabaseCpu(
  databasePids: (() => Promise<number[]>) | undefined,
): Promise<{ stop(): Promise<number | null> }> {
  if (!databasePids) return { stop: async () => null };
  const before = new Map((await databasePids()).map((pid) => [pid, cpuSecondsOf([pid])]));
  return {
    stop: async () => {
      let total = 0;
      for (const pid of new Set([...before.keys(), ...(await databasePids())])) {
        total += Math.max(0, cpuSecondsOf([pid]) - (before.get(pid) ?? 0));
      }
      return total;
    },
  };
}
