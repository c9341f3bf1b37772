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
 * Taking over a stale socket is serialized by an exclusive create (O_EXCL)
 * of `<dir>/server.takeover`: only its holder may unlink the socket file, and
 * it probes again first, so of two processes starting at once after a crash
 * exactly one holds the lock. A takeover file older than a minute (its
 * holder died within those few milliseconds) is refused with a message.
 *
 * The folder is private: created 0700; an existing folder must belong to this
 * process's user (else refused), and the folder and everything in it lose any
 * group/other permission bits before the database opens them (PostgreSQL
 * refuses such a folder; PGlite does not check).
 *
 * Socket path length: sun_path is 108 bytes on Linux, 104 on macOS (incl.
 * the NUL). Node 20 does NOT reject a longer path: it silently binds a
 * TRUNCATED name. So if `<realpath(dir)>/server.sock` is longer than 103
 * bytes, the socket goes to a private runtime folder instead,
 * `<os.tmpdir()>/pglite-<uid>/` (or `/tmp/pglite-<uid>/`), created 0700 and
 * refused unless it is this user's own folder with no group/other access,
 * as `<sha256(realpath(dir)) first 32 hex>.sock`. The admin CLI checks the
 * socket's owner before it sends anything ({@link checkLockSocket}). The
 * folder path is canonicalized with realpath first, so two spellings of the
 * same folder (symlinks, relative paths) map to the same lock.
 *
 * On Windows, `listen(path)` needs a named pipe; the lock uses
 * `\\.\pipe\pglite-lock-<hash>` (pipes vanish with their process, so there
 * are no stale files). Untested here.
 *
 * The listening `net.Server` is exposed as `lock.server` (e.g. for a later
 * admin channel). Until `lock.onConnection(handler)` installs a handler,
 * every incoming connection is destroyed immediately. The server is
 * `unref()`ed so it never keeps the process alive on its own.
 */
import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, realpath, stat, unlink, writeFile } from 'node:fs/promises';
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
const MAX_ATTEMPTS = 50;
const TAKEOVER_STALE_MS = 60_000;

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const absDir = path.resolve(dir);
  await mkdir(absDir, { recursive: true, mode: 0o700 });
  const canonicalDir = await realpath(absDir);
  await makePrivate(canonicalDir, dir);
  const socketPath = lockSocketPath(canonicalDir);
  if (path.dirname(socketPath) !== canonicalDir) await privateRuntimeDir(path.dirname(socketPath));
  const pidPath = path.join(canonicalDir, 'server.pid');
  const takeoverPath = path.join(canonicalDir, 'server.takeover');

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
    // A stale socket file from a process that died without cleaning up: only the holder of the
    // takeover file may remove it, after probing again, so two starters cannot both take the lock.
    const takeover = await open(takeoverPath, 'wx', 0o600).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      const age =
        Date.now() -
        (await stat(takeoverPath).then(
          (s) => s.mtimeMs,
          () => Date.now(),
        ));
      if (age > TAKEOVER_STALE_MS) {
        throw new Error(
          `Could not lock data folder ${dir}: ${takeoverPath} was left by a server that stopped while starting. Make sure no server runs on this folder, delete that file, and start again.`,
        );
      }
      return null;
    });
    if (takeover === null) {
      // Another process is taking over: wait, then try again (its socket will then be live).
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 50));
      continue;
    }
    try {
      if ((await probeSocket(socketPath)) === 'live') throw await inUseError(dir, pidPath);
      await unlink(socketPath).catch(ignoreENOENT);
      const retry = await listen(server, socketPath);
      if (retry) {
        if (retry.code === 'EADDRINUSE') throw await inUseError(dir, pidPath);
        throw new Error(`Could not lock data folder ${dir} (socket ${socketPath}): ${retry.message}`, { cause: retry });
      }
    } finally {
      await takeover.close();
      await unlink(takeoverPath).catch(ignoreENOENT);
    }
    break;
  }

  server.unref();
  // Keep the server alive even if something goes wrong on it after listen.
  server.on('error', () => {});
  try {
    if (process.platform !== 'win32') await chmod(socketPath, 0o600);
    await writeFile(pidPath, `${process.pid}\n`, { mode: 0o600 });
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
  // A private runtime folder of this user, never a name in a shared folder that another user could
  // bind first.
  const folder = `pglite-${process.getuid?.() ?? 'user'}`;
  const inTmp = path.join(os.tmpdir(), folder, `${hash}.sock`);
  if (Buffer.byteLength(inTmp) <= MAX_SOCKET_PATH_BYTES) return inTmp;
  return path.join('/tmp', folder, `${hash}.sock`);
}

/**
 * Before the admin CLI speaks on the lock socket of a data folder: the socket must be a socket owned
 * by the folder's owner, in a folder of that owner that no one else can write to. Otherwise another
 * local user may have bound it first, and would receive the admin token. Throws with the reason.
 */
export async function checkLockSocket(canonicalDir: string, socketPath: string): Promise<void> {
  if (process.platform === 'win32') return;
  const owner = (await stat(canonicalDir)).uid;
  const socket = await lstat(socketPath);
  const parent = await lstat(path.dirname(socketPath));
  const problem = !socket.isSocket()
    ? 'is not a socket'
    : socket.uid !== owner
      ? `belongs to uid ${socket.uid}, not to the data folder's owner (uid ${owner})`
      : !parent.isDirectory() || parent.uid !== owner || (parent.mode & 0o022) !== 0
        ? 'is in a folder that another user can write to'
        : null;
  if (problem !== null) throw new Error(`Refusing to use ${socketPath}: it ${problem}.`);
}

/**
 * Makes the data folder private before anything is opened in it: it must belong to this process's
 * user, and it and every file in it lose their group and other permission bits (an existing folder
 * made by `mkdir` is 0755, and PGlite creates its files 0666 less the umask).
 */
async function makePrivate(canonicalDir: string, dir: string): Promise<void> {
  const uid = process.getuid?.();
  if (process.platform === 'win32' || uid === undefined) return;
  const info = await lstat(canonicalDir);
  if (info.uid !== uid) {
    throw new Error(
      `Data folder ${dir} belongs to uid ${info.uid}, not to the user running the server (uid ${uid}). Run the server as the folder's owner, or give it the folder: chown -R ${uid} ${dir}`,
    );
  }
  const walk = async (entry: string, entryInfo: Awaited<ReturnType<typeof lstat>>): Promise<void> => {
    if (entryInfo.isSymbolicLink()) return;
    if ((Number(entryInfo.mode) & 0o077) !== 0) {
      if (Number(entryInfo.uid) !== uid) {
        throw new Error(
          `${entry} in data folder ${dir} belongs to uid ${entryInfo.uid} and is open to other users. Give the folder to the user running the server: chown -R ${uid} ${dir}`,
        );
      }
      await chmod(entry, Number(entryInfo.mode) & 0o7700).catch(ignoreENOENT);
    }
    if (entryInfo.isDirectory()) {
      // An entry gone between readdir and lstat (another starter's takeover file, say) needs nothing.
      for (const name of await readdir(entry).catch((error: NodeJS.ErrnoException) => {
        ignoreENOENT(error);
        return [] as string[];
      })) {
        const child = path.join(entry, name);
        const childInfo = await lstat(child).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return null;
          throw error;
        });
        if (childInfo) await walk(child, childInfo);
      }
    }
  };
  await walk(canonicalDir, info);
}

/** Creates (0700) or checks the private runtime folder that holds a lock socket for a long DATA_DIR path. */
async function privateRuntimeDir(folder: string): Promise<void> {
  await mkdir(folder, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(folder);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw new Error(
      `Refusing to put the data-folder lock socket in ${folder}: it is not a folder of this user with mode 0700. Remove it, or use a shorter DATA_DIR path.`,
    );
  }
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
