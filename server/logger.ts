import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Request lines carry ids, method, path, status and duration only; these
 * redactions are a second net for anything that ever logs a request or a row by mistake.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: {
        paths: ['*.cookie', '*.headers.cookie', '*.token', '*.secret', '*.challenge', '*.publicKey', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}
