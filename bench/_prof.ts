import { readdir } from 'node:fs/promises';
import { startServerProcess } from './server-process.js';
import { runLoad } from './scenarios.js';
import { sessionToken } from './seed.js';
import { summarizeProfile } from './profile.js';
const dir = '/tmp/bt/prof-' + Date.now();
const route = process.argv[2] ?? 'session';
const t0 = performance.now();
const s = await startServerProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/bench_explore', BENCH_ROUTES: '1', LOG_LEVEL: 'silent', SWEEP_INTERVAL: '0' }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
const requests = Array.from({ length: 3000 }, () => ({ headers: { cookie: `__Host-session=${sessionToken(1 + Math.floor(Math.random() * 1e6))}` } }));
const spawned = performance.now();
const r = route === 'session' ? await runLoad('session', s, { path: '/auth/session', requests, connections: 50, duration: 8, warmup: 1 })
  : await runLoad('baseline', s, { path: '/bench/baseline', connections: 50, duration: 8, warmup: 1 });
console.log(r);
await s.stop();
const f = (await readdir(dir))[0]!;
console.log(await summarizeProfile(`${dir}/${f}`, { top: 30, skipMs: spawned - t0 + 1000 }));
