import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/schema.js';
import type { Metrics } from './metrics/metrics.js';

/** What the app is built from: everything app-wide is passed in, nothing is a module singleton. */
export interface Deps {
  db: Kysely<Database>;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Prometheus metrics (server/metrics/); absent when they are off. */
  metrics?: Metrics;
  /**
   * Hook for the logger's count of dropped log lines, exported as `auth_log_lines_dropped_total`
   * when metrics are on (server/main.ts connects it).
   */
  droppedLogLines?: () => number;
}
