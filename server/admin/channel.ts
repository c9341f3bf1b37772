/**
 * The local admin channel: how `npm run admin` reaches a running server that holds the PGlite data
 * folder (PGlite lets only one process open it; see server/db/data-dir-lock.ts).
 *
 * Transport: the data-folder lock's own Unix socket (`<DATA_DIR>/server.sock`, chmod 0600, so only
 * the server's OS user can connect). Authentication on top of that: a random 256-bit token written at
 * each start to `<DATA_DIR>/admin.token` (mode 0600), which every request must carry; it is compared
 * in constant time and a request without it is answered `unauthorized` and the connection closed.
 *
 * Protocol: newline-delimited JSON. Request `{"token", "command", "args"}`, response
 * `{"ok": true, "result"}` or `{"ok": false, "error": {"code", "message"}}`. Lines are capped, idle
 * connections are closed. The commands are those of server/admin/commands.ts, run with the server's
 * own dependencies, so both paths of the CLI execute the same code.
 */
import { chmod, rename, unlink, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import { bytesEqual, randomBase64url, sha256 } from '../crypto.js';
import type { ConnectionHandler, DataDirLock } from '../db/data-dir-lock.js';
import type { Deps } from '../deps.js';
import { AdminError, type AdminErrorCode, runAdminCommand } from './commands.js';

/** The token file's name inside the data folder. */
export const ADMIN_TOKEN_FILE = 'admin.token';

export interface AdminRequest {
  token: string;
  command: string;
  args?: Record<string, unknown>;
}

export type AdminResponse =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: AdminErrorCode; message: string } };

/**
 * Writes a fresh random admin token to `<dir>/admin.token` with mode 0600 and returns it. The file is
 * created exclusively under a temporary name and renamed into place, so it is never readable by others
 * even for a moment and a planted symlink is not followed.
 */
export async function writeAdminToken(dir: string): Promise<string> {
  const token = randomBase64url(32);
  const file = path.join(dir, ADMIN_TOKEN_FILE);
  const temporary = `${file}.${process.pid}.${randomBase64url(6)}.tmp`;
  try {
    await writeFile(temporary, `${token}\n`, { mode: 0o600, flag: 'wx' });
    // The mode given to open() is masked by the umask; make sure it is exactly 0600.
    await chmod(temporary, 0o600);
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  return token;
}

export interface AdminChannelOptions {
  /** The token every request must carry. */
  token: string;
  /** Longest accepted request line, in bytes. */
  maxLineBytes?: number;
  /** A connection idle this long is closed, in milliseconds. */
  idleTimeoutMs?: number;
}

/** A connection handler for `lock.onConnection()` that serves admin commands to authenticated clients. */
export function createAdminChannel(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  options: AdminChannelOptions,
): ConnectionHandler {
  const { maxLineBytes = 64 * 1024, idleTimeoutMs = 120_000 } = options;
  // Compare hashes, so that neither the content nor the length of the token leaks through timing.
  const expected = sha256(options.token);
  const { logger } = deps;

  return (socket: net.Socket) => {
    let buffered = '';
    let closed = false;
    let queue = Promise.resolve();

    const reply = (response: AdminResponse) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
    };
    const refuse = (code: AdminErrorCode, message: string) => {
      closed = true;
      reply({ ok: false, error: { code, message } });
      socket.end();
    };

    const handleLine = async (line: string) => {
      if (closed) return;
      let request: unknown;
      try {
        request = JSON.parse(line);
      } catch {
        logger.warn('admin channel: refused a request that is not JSON');
        return refuse('unauthorized', 'Each request is one line of JSON with the admin token.');
      }
      const { token, command, args } = (typeof request === 'object' && request !== null ? request : {}) as Record<
        string,
        unknown
      >;
      if (typeof token !== 'string' || !bytesEqual(sha256(token), expected)) {
        logger.warn('admin channel: refused a request with a missing or wrong token');
        return refuse('unauthorized', 'Wrong or missing admin token.');
      }
      try {
        logger.info({ command, user: (args as { user?: unknown } | undefined)?.user }, 'admin command');
        reply({ ok: true, result: await runAdminCommand(deps, command, args) });
      } catch (error) {
        if (error instanceof AdminError)
          return reply({ ok: false, error: { code: error.code, message: error.message } });
        logger.error({ err: error, command }, 'admin command failed');
        // The client is the authenticated operator on this machine; the message helps them, and the
        // stack stays in the server log.
        reply({
          ok: false,
          error: {
            code: 'internal',
            message: `The command failed: ${error instanceof Error ? error.message : String(error)}`,
          },
        });
      }
    };

    socket.setEncoding('utf8');
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      if (closed) return;
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        queue = queue.then(() => handleLine(line));
      }
      if (Buffer.byteLength(buffered) > maxLineBytes) {
        buffered = '';
        queue = queue.then(() => refuse('usage', `A request line is limited to ${maxLineBytes} bytes.`));
      }
    });
  };
}

/**
 * Serves the admin channel on the data-folder lock's socket: writes a fresh token to
 * `<DATA_DIR>/admin.token` and installs the handler. Call once the database is migrated.
 */
export async function startAdminChannel(
  lock: DataDirLock,
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
): Promise<void> {
  const token = await writeAdminToken(lock.path);
  lock.onConnection(createAdminChannel(deps, { token }));
}
