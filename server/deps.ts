import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/schema.js';

/** What the app is built from: everything app-wide is passed in, nothing is a module singleton. */
export interface Deps {
  db: Kysely<Database>;
  config: Config;
  clock: Clock;
  logger: Logger;
}
