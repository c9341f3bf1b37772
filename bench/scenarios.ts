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

/** Drives one GET route with autocannon (loopback, pipelining 1) after a discarded warm-up. */
export async function runLoad(name: string, server: ServerProcess, options: LoadOptions): Promise<ScenarioResult> {
  const base = {
    url: `${server.url}${options.path}`,
    connections: options.connections,
    pipelining: 1,
    headers: options.headers,
    requests: options.requests?.map((request) => ({
      method: 'GET' as const,
      path: options.path,
      headers: { ...options.headers, ...request.headers },
    })),
  };
  if (options.warmup > 0) await autocannon({ ...base, duration: options.warmup });
  const database = await measureDatabaseCpu(options.databasePids);
  const sampler = sampleProcess(server.pid);
  const result = await autocannon({ ...base, duration: options.duration });
  sampler.stop();
  const databaseSeconds = await database.stop();
  const total = result.requests.total;
  const statuses: Record<string, number> = { errors: result.errors, timeouts: result.timeouts };
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statuses[code] = (stat as { count: number }).count;
  return {
    name,
    rps: total / (result.duration || options.duration),
    p50: result.latency.p50,
    p99: result.latency.p99,
    // autocannon counts a timeout among the errors too.
    failures: result.non2xx + result.errors,
    total,
    statuses,
    rssMb: sampler.peakRssMb(),
    serverCpu: sampler.cpuCores(),
    serverCpuMs: perRequest(sampler.cpuSeconds(), total),
    ...(databaseSeconds === null ? {} : { databaseCpuMs: perRequest(databaseSeconds, total) }),
  };
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
