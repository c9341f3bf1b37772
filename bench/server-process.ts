import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { commandBundleOptions } from '../scripts/command-bundle.js';
import { freePort } from '../test/helpers/free-port.js';

const root = fileURLToPath(new URL('../', import.meta.url));
/** The server as `npm start` runs it (scripts/command-bundle.ts), the one the bench measures. */
export const measuredServerScript = 'bundle/server/main.ts';

/** The node flags of `npm start` (package.json), which the measured server runs with too. */
export function startScriptFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

/** Where {@link compileSources} writes the JavaScript the measured processes run (git-ignored). */
const compiledRoot = path.join(root, 'bench/.build');

let compiling: Promise<void> | undefined;

/**
 * Compiles `server/` and `bench/` to JavaScript once per bench run, file by file (esbuild, no
 * bundling, so a CPU profile still names each source file), into `bench/.build/`, and the server
 * once more as `npm start` ships it, bundled with its dependencies ({@link measuredServerScript}).
 * The measured processes then run plain `node` with no tsx loader.
 */
export function compileSources(): Promise<void> {
  compiling ??= (async () => {
    await rm(compiledRoot, { recursive: true, force: true });
    const entryPoints: string[] = [];
    for (const folder of ['server', 'bench']) {
      const files = await readdir(path.join(root, folder), { recursive: true });
      for (const file of files)
        if (file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.startsWith('.build'))
          entryPoints.push(path.join(root, folder, file));
    }
    await build({
      entryPoints,
      outbase: root,
      outdir: compiledRoot,
      bundle: false,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
    });
    // The server as `npm start` runs it: bundled like dist/bin.js, into bench/.build/bundle/.
    await build({
      ...commandBundleOptions,
      entryPoints: { 'server/main': path.join(root, 'server/main.ts') },
      outdir: path.join(compiledRoot, 'bundle'),
      chunkNames: 'chunks/[name]-[hash]',
    });
  })();
  return compiling;
}

export interface ServerProcess {
  /** `http://localhost:PORT` (the WebAuthn origin; rpId `localhost`). */
  origin: string;
  /** `http://127.0.0.1:PORT`, what the load generator connects to (loopback, no name lookup). */
  url: string;
  pid: number;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Node flags before the script (`--cpu-prof`, ...). */
  nodeFlags?: string[];
  /** The script to run, relative to the repository (default the real server, `server/main.ts`); it runs compiled. */
  script?: string;
  /** Pin the process to one CPU core (`taskset -c N`), as the comparison runs do. */
  cpu?: number;
}

/**
 * Starts the real server (`server/main.ts`) or one of the comparison servers (bench/compare/),
 * compiled to JavaScript by {@link compileSources} and run by plain `node`, on a free loopback port,
 * and waits until `/healthz` answers 200.
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: StartOptions = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const url = `http://127.0.0.1:${port}`;
  await compileSources();
  const script = (options.script ?? 'server/main.ts').replace(/\.ts$/, '.js');
  const node = [...(options.nodeFlags ?? []), path.join(compiledRoot, script)];
  const [command, args] =
    options.cpu === undefined
      ? [process.execPath, node]
      : ['taskset', ['-c', String(options.cpu), process.execPath, ...node]];
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ORIGIN: origin, RP_ID: 'localhost', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output.join('')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not answer /healthz within 60 s:\n${output.join('')}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    origin,
    url,
    pid: child.pid!,
    child,
    output,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ProcessSampler {
  /** Highest resident set size seen, in MB. */
  peakRssMb(): number;
  /** CPU time the process used since the sampler started, as a share of one core (1.0 = one core busy). */
  cpuCores(): number;
  /** CPU time the process used while sampled, in seconds. */
  cpuSeconds(): number;
  stop(): void;
}

/** Samples a process's RSS (`VmRSS` in /proc/<pid>/status) and CPU time while a scenario runs. */
export function sampleProcess(pid: number, everyMs = 200): ProcessSampler {
  const startedAt = performance.now();
  const startCpu = cpuTicks(pid);
  let peak = rssMb(pid);
  let endCpu = startCpu;
  let endedAt = startedAt;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, everyMs);
  let stopped = false;
  return {
    peakRssMb: () => peak,
    cpuCores: () => {
      const ticksPerSecond = 100; // USER_HZ on Linux
      const seconds = (endedAt - startedAt) / 1000;
      return seconds > 0 ? (endCpu - startCpu) / ticksPerSecond / seconds : 0;
    },
    cpuSeconds: () => (endCpu - startCpu) / 100,
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      peak = Math.max(peak, rssMb(pid));
      endCpu = cpuTicks(pid);
      endedAt = performance.now();
    },
  };
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time of a set of processes (e.g. the PostgreSQL backends serving the bench database), in seconds. */
export function cpuSecondsOf(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) / 100;
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}
