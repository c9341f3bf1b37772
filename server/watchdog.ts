import { Worker } from 'node:worker_threads';

/**
 * The last resort of a shutdown: a worker thread, whose timer runs on its own event loop, sends
 * SIGKILL to this process after `ms` even if the main thread's loop is blocked and its own
 * forced-exit timer can never fire. Unreferenced: it never keeps the process alive.
 */
export function armWatchdog(ms: number): void {
  const worker = new Worker(`setTimeout(() => process.kill(process.pid, 'SIGKILL'), ${Math.max(0, Math.round(ms))});`, {
    eval: true,
    stdout: true,
    stderr: true,
  });
  worker.unref();
}
