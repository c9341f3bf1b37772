import net from 'node:net';
import type { AdminRequest, AdminResponse } from './channel.js';
import { AdminError, type AdminErrorCode } from './commands.js';

const errorCodes = new Set<AdminErrorCode>(['usage', 'not_found', 'unauthorized', 'unavailable', 'internal']);

/** Opens a connection to a Unix socket; rejects with the system error (ENOENT, ECONNREFUSED, EACCES…). */
export function connectSocket(socketPath: string, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`Timed out connecting to ${socketPath}`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Sends one request over an open admin-channel connection and reads the one-line answer. Throws an
 * {@link AdminError} `unavailable` when the server closes the connection without answering (it is
 * still starting, or predates the admin channel) or does not answer in time.
 */
export function sendAdminRequest(
  socket: net.Socket,
  request: AdminRequest,
  timeoutMs = 60_000,
): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let settled = false;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      action();
    };
    const timer = setTimeout(
      () =>
        finish(() => reject(new AdminError('unavailable', 'The server did not answer on its admin channel in time.'))),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      const line = buffered.slice(0, newline);
      finish(() => {
        try {
          resolve(parseResponse(JSON.parse(line)));
        } catch {
          reject(new AdminError('internal', 'The server sent an unreadable answer on its admin channel.'));
        }
      });
    });
    const closedEarly = () =>
      finish(() =>
        reject(
          new AdminError(
            'unavailable',
            'The running server closed the admin channel without answering: it may still be starting (try again), or it is a version without the admin channel.',
          ),
        ),
      );
    socket.on('end', closedEarly);
    socket.on('close', closedEarly);
    socket.on('error', closedEarly);
    if (socket.destroyed || socket.readableEnded) return closedEarly();
    socket.write(`${JSON.stringify(request)}\n`);
  });
}

function parseResponse(value: unknown): AdminResponse {
  const response = value as { ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
  if (response?.ok === true) return { ok: true, result: response.result };
  const code = errorCodes.has(response?.error?.code as AdminErrorCode)
    ? (response.error!.code as AdminErrorCode)
    : 'internal';
  const message =
    typeof response?.error?.message === 'string' ? response.error.message : 'The server refused the command.';
  return { ok: false, error: { code, message } };
}
