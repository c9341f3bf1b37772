import pino, { type Logger } from 'pino';

/** Bytes of log lines held in memory while the consumer of stdout is not reading; beyond it lines are dropped. */
export const DEFAULT_LOG_BUFFER_BYTES = 1024 * 1024;

let droppedLines = 0;

/**
 * How many log lines this process has dropped since it started because the consumer of its log
 * output did not keep up (a monotonic counter, for a metrics endpoint).
 */
export function logDropped(): number {
  return droppedLines;
}

/** A pino destination that never blocks the event loop. See {@link nonBlockingDestination}. */
export interface NonBlockingDestination extends pino.DestinationStream {
  /** Lines this destination dropped so far. */
  readonly dropped: number;
  /** Bytes waiting for the consumer. */
  readonly buffered: number;
  /** Resolves true once everything written has been handed to the consumer, or false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Called once the consumer reads again after lines were dropped (createLogger logs a warning). */
  onCatchUp: ((dropped: number, droppedTotal: number) => void) | null;
}

/**
 * Writes log lines to a stream (stdout by default) without ever blocking: on a pipe or socket,
 * Node writes asynchronously and keeps what the consumer has not taken yet in memory. Past
 * `maxBufferedBytes` of such backlog, a line is dropped and counted instead of being queued; when
 * the backlog drains, `onCatchUp` reports how many were dropped.
 *
 * Not pino.destination({ sync: false }): SonicBoom retries EAGAIN by sleeping in Atomics.wait in
 * its flushSync, which pino runs from an `exit` handler, so a pipe nobody reads still freezes the
 * process, and at exit, where not even the forced-exit timer can help.
 */
export function nonBlockingDestination(
  options: {
    stream?: NodeJS.WritableStream & { writableLength: number; destroyed: boolean };
    maxBufferedBytes?: number;
  } = {},
): NonBlockingDestination {
  const { stream = process.stdout, maxBufferedBytes = DEFAULT_LOG_BUFFER_BYTES } = options;
  let dropped = 0;
  let droppedSinceReport = 0;
  let broken = false;
  // EPIPE and the like: the consumer is gone; count the lines instead of crashing on an unhandled 'error'.
  stream.on('error', () => {
    broken = true;
  });
  const destination: NonBlockingDestination = {
    get dropped() {
      return dropped;
    },
    get buffered() {
      return stream.writableLength;
    },
    onCatchUp: null,
    write(line: string) {
      if (broken || stream.destroyed || stream.writableLength >= maxBufferedBytes) {
        dropped += 1;
        droppedSinceReport += 1;
        droppedLines += 1;
        return;
      }
      if (droppedSinceReport > 0) report();
      stream.write(line);
    },
    drained(timeoutMs: number) {
      // Polled: 'drain' only comes after a write() that returned false.
      return new Promise((resolve) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          if (stream.writableLength === 0 || broken || Date.now() >= deadline) resolve(stream.writableLength === 0);
          else setTimeout(check, 20);
        };
        check();
      });
    },
  };
  const report = () => {
    const count = droppedSinceReport;
    droppedSinceReport = 0;
    destination.onCatchUp?.(count, dropped);
  };
  // 'drain' comes once the consumer has taken the whole backlog: the moment to say what was lost.
  stream.on('drain', () => {
    if (droppedSinceReport > 0) report();
  });
  return destination;
}

function isNonBlocking(destination: pino.DestinationStream | undefined): destination is NonBlockingDestination {
  return destination !== undefined && 'onCatchUp' in destination && 'drained' in destination;
}

/**
 * Structured JSON logs. Request lines carry ids, method, path, status and duration only; these
 * redactions are a second net for anything that ever logs a request or a row by mistake.
 *
 * Without a destination, logs go to stdout through {@link nonBlockingDestination}: a slow or stuck
 * log consumer costs dropped lines (counted by {@link logDropped}), never a frozen server.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const destination = options.destination ?? nonBlockingDestination();
  const logger = pino(
    {
      level: options.level ?? 'info',
      redact: {
        paths: [
          '*.cookie',
          '*.headers.cookie',
          '*.token',
          '*.secret',
          '*.challenge',
          '*.publicKey',
          'req.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
  if (isNonBlocking(destination) && destination.onCatchUp === null) {
    destination.onCatchUp = (dropped, droppedTotal) =>
      logger.warn({ droppedLines: dropped, droppedTotal }, 'log lines dropped: the log consumer did not keep up');
  }
  return logger;
}
