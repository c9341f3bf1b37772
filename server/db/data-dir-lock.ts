/**
 * Exclusive, cross-process lock on a PGlite data folder.
 *
 * PGlite 0.5 does not lock its data folder: a second process can open the
 * same folder, and one side's writes are silently lost. `lockDataDir()` must
 * be taken before `PGlite.create({ dataDir })` and released after
 * `pglite.close()`.
 *
 * Mechanism: a Unix domain socket server bound at `<dir>/server.sock`.
 * - bind succeeds                        -> we hold the lock.
 * - bind fails with EADDRINUSE, and
 *   - a connect to the socket succeeds   -> a live process holds it: throw.
 *   - connect fails ECONNREFUSED/ENOENT  -> stale file left by a crashed
 *                                           process: unlink it, bind again.
 * The kernel drops the listening socket when its process dies (even on
 * SIGKILL), so a crash can never leave a "live" lock behind, only a stale
 * file, which the next start cleans up.
 *
 * The holder's pid goes to `<dir>/server.pid`, only for the error message.
 *
 * Socket path length: sun_path is 108 bytes on Linux, 104 on macOS (incl.
 * the NUL). Node 20 does NOT reject a longer path: it silently binds a
 * TRUNCATED name. So if `<realpath(dir)>/server.sock` is longer than 103
 * bytes, the socket goes to `<os.tmpdir()>/pglite-lock-<sha256(realpath(dir))
 * first 32 hex>.sock` instead (or under /tmp if even that is too long). The
 * folder path is canonicalized with realpath first, so two spellings of the
 * same folder (symlinks, relative paths) map to the same lock.
 *
 * On Windows, `listen(path)` needs a named pipe; the lock uses
 * `\\.\pipe\pglite-lock-<hash>` (pipes vanish with their process, so there
 * are no stale files). Untested here.
 *
 * Known limit: if two processes start at the same moment on a folder whose
 * previous owner crashed, both may see the stale file; the check-then-unlink
 * step is not atomic, so in that narrow window (a few ms) both could end up
 * "holding" the lock. Not a concern for the normal one-server-per-folder use.
 *
 * The listening `net.Server` is exposed as `lock.server` (e.g. for a later
 * admin channel). Until `lock.onConnection(handler)` installs a handler,
 * every incoming connection is destroyed immediately. The server is
 * `unref()`ed so it never keeps the process alive on its own.
 */
import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { chmod, mkdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type ConnectionHandler = (socket: net.Socket) => void;

export interface DataDirLock {
  /** Absolute, canonical (realpath) data folder that is locked. */
  readonly path: string;
  /** Where the lock socket is bound (`<path>/server.sock`, or a tmpdir fallback / named pipe). */
  readonly socketPath: string;
  /** `<path>/server.pid`. */
  readonly pidPath: string;
  /** The listening server; unref()ed. */
  readonly server: net.Server;
  /**
   * Install (or, with null, remove) the handler for incoming connections.
   * Without a handler, connections are destroyed immediately.
   */
  onConnection(handler: ConnectionHandler | null): void;
  /** Close the server and remove the socket and pid files. Idempotent. */
  release(): Promise<void>;
}

/** Longest socket path that fits sun_path on both Linux (108) and macOS (104), NUL excluded. */
const MAX_SOCKET_PATH_BYTES = 103;
const PROBE_TIMEOUT_MS = 2000;
const MAX_ATTEMPTS = 5;

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const absDir = path.resolve(dir);
  await mkdir(absDir, { recursive: true, mode: 0o700 });
  const canonicalDir = await realpath(absDir);
  const socketPath = lockSocketPath(canonicalDir);
  const pidPath = path.join(canonicalDir, 'server.pid');

  let handler: ConnectionHandler | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (handler) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      handler(socket);
    } else {
      socket.destroy();
    }
  });

  for (let attempt = 1; ; attempt++) {
    const err = await listen(server, socketPath);
    if (!err) break;
    if (err.code !== 'EADDRINUSE' || process.platform === 'win32' || attempt >= MAX_ATTEMPTS) {
      if (err.code === 'EADDRINUSE') throw await inUseError(dir, pidPath);
      throw new Error(`Could not lock data folder ${dir} (socket ${socketPath}): ${err.message}`, { cause: err });
    }
    const probe = await probeSocket(socketPath);
    if (probe === 'live') throw await inUseError(dir, pidPath);
    // Stale socket file from a process that died without cleaning up.
    await unlink(socketPath).catch(ignoreENOENT);
  }

  server.unref();
  // Keep the server alive even if something goes wrong on it after listen.
  server.on('error', () => {});
  try {
    if (process.platform !== 'win32') await chmod(socketPath, 0o600);
    await writeFile(pidPath, `${process.pid}\n`);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }

  // Best-effort cleanup on a normal exit (we still own both files then).
  const onExit = () => {
    for (const p of [pidPath, socketPath]) {
      try {
        if (process.platform !== 'win32' || p === pidPath) unlinkSync(p);
      } catch {
        /* ignore */
      }
    }
  };
  process.once('exit', onExit);

  let released: Promise<void> | undefined;
  return {
    path: canonicalDir,
    socketPath,
    pidPath,
    server,
    onConnection(h) {
      handler = h;
    },
    release() {
      released ??= (async () => {
        process.removeListener('exit', onExit);
        // Remove the pid file while we still hold the lock, so we never
        // delete a successor's file.
        await unlink(pidPath).catch(ignoreENOENT);
        for (const s of sockets) s.destroy();
        // Closing a Unix socket server unlinks its socket file (libuv). Do not
        // unlink it ourselves afterwards: a successor may already have bound
        // a new socket at the same path.
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return released;
    },
  };
}

/**
 * Where the lock socket for a canonical (realpath) data folder lives; see the
 * module comment for the tmpdir fallback on long paths.
 */
export function lockSocketPath(canonicalDir: string): string {
  const hash = createHash('sha256').update(canonicalDir).digest('hex').slice(0, 32);
  if (process.platform === 'win32') return `\\\\.\\pipe\\pglite-lock-${hash}`;
  const inDir = path.join(canonicalDir, 'server.sock');
  if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH_BYTES) return inDir;
  const name = `pglite-lock-${hash}.sock`;
  const inTmp = path.join(os.tmpdir(), name);
  if (Buffer.byteLength(inTmp) <= MAX_SOCKET_PATH_BYTES) return inTmp;
  return path.join('/tmp', name);
}

function listen(server: net.Server, socketPath: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => resolve(err);
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.removeListener('error', onError);
      resolve(undefined);
    });
  });
}

/**
 * 'live' if something accepts connections on the socket, 'stale' if nothing
 * listens there (ECONNREFUSED) or the file vanished (ENOENT). Any other
 * outcome (timeout, EAGAIN from a full backlog, EACCES...) counts as live:
 * better to refuse to start than to share the folder.
 */
function probeSocket(socketPath: string): Promise<'live' | 'stale'> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const done = (result: 'live' | 'stale') => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('live'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : 'live'),
    );
  });
}

async function inUseError(dir: string, pidPath: string): Promise<Error> {
  const pid = await readFile(pidPath, 'utf8').then(
    (s) => s.trim() || 'unknown',
    () => 'unknown',
  );
  return new Error(
    `Data folder ${dir} is in use by another running server (pid ${pid}). Stop it first, or point DATA_DIR elsewhere.`,
  );
}

function ignoreENOENT(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
