import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

export interface RunningPgBouncer {
  /** `url` with its host and port replaced by PgBouncer's. */
  through(url: string): string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Debian's PgBouncer in transaction mode, in front of the PostgreSQL server of `target`, with its
 * own port, configuration and log in a temporary folder. PgBouncer refuses to run as root, so as
 * root it drops to `user` (default `postgres`) with `-u`. The server's `statement_timeout` startup
 * parameter is ignored (PgBouncer 1.18 refuses unknown ones): behind a pooler it is set on the role
 * or database instead.
 */
export async function startPgBouncer(
  target: string,
  options: { binary?: string; user?: string; poolSize?: number } = {},
): Promise<RunningPgBouncer> {
  const { binary = '/usr/sbin/pgbouncer', user = 'postgres', poolSize = 20 } = options;
  const upstream = new URL(target);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgbouncer-'));
  // Readable and writable (log) by the user PgBouncer drops to.
  await chmod(dir, 0o777);
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  const log = path.join(dir, 'pgbouncer.log');
  await writeFile(path.join(dir, 'userlist.txt'), `"${decodeURIComponent(upstream.username || 'postgres')}" ""\n`, {
    mode: 0o644,
  });
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      `default_pool_size = ${poolSize}`,
      'ignore_startup_parameters = extra_float_digits,statement_timeout',
      `admin_users = ${decodeURIComponent(upstream.username || 'postgres')}`,
      `logfile = ${log}`,
      'server_reset_query =',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const args = process.getuid?.() === 0 ? ['-u', user, ini] : [ini];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Ready once it accepts a connection on its port.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const logText = await readFile(log, 'utf8').catch(() => '');
      throw new Error(`pgbouncer exited with ${child.exitCode}:\n${output.join('')}\n${logText}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port}:\n${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    through(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
