import { type Kysely, sql } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { liveAt } from '../sessions/lifetime.js';
import { deleteEndedSessions, type EndedSessions } from '../sessions/repository.js';

export interface SweepResult {
  challenges: number;
  sessions: number;
  counters: number;
}

export interface SweepOptions {
  /** Rows deleted per statement, so one run never holds many locks or one long transaction. */
  batchSize?: number;
  /** Upper bound on batches per table and run; the next run continues. */
  maxBatches?: number;
}

/**
 * Deletes what can no longer be used: expired challenges, sessions that expired (absolutely or by
 * idleness) or were revoked more than `sweep.sessionRetention` ago, and rate-limit counters whose
 * window has passed. Safe on several instances at once: every batch is
 * `DELETE … WHERE key IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`, so concurrent sweeps take
 * disjoint rows without waiting on each other, and deleting what is already gone is a no-op. Time
 * comes from the caller (the injected clock).
 */
export async function sweepExpired(
  db: Kysely<Database>,
  config: Pick<Config, 'session' | 'sweep'>,
  now: Date,
  { batchSize = 500, maxBatches = 100 }: SweepOptions = {},
): Promise<SweepResult> {
  const retentionCutoff = new Date(now.getTime() - config.sweep.sessionRetention * 1000);

  const challenges = await inBatches(maxBatches, batchSize, async () => {
    const result = await db
      .deleteFrom('webauthn_challenge')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('webauthn_challenge')
          .select('id')
          .where('expires_at', '<=', now)
          .limit(batchSize)
          .forUpdate()
          .skipLocked(),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  });

  // One pass per condition, each served by an index (server/sessions/repository.ts).
  const ended = liveAt(config.session, retentionCutoff);
  const deleteSessions = (condition: EndedSessions) =>
    inBatches(maxBatches, batchSize, () => deleteEndedSessions(db, condition, ended, batchSize));
  const sessions =
    (await deleteSessions('expired')) + (await deleteSessions('idle')) + (await deleteSessions('revoked'));

  const counters = await inBatches(maxBatches, batchSize, async () => {
    const result = await sql`
      delete from rate_limit where (bucket, key) in (
        select bucket, key from rate_limit where expires_at <= ${now} limit ${batchSize} for update skip locked
      )`.execute(db);
    return Number(result.numAffectedRows ?? 0n);
  });

  return { challenges, sessions, counters };
}

async function inBatches(maxBatches: number, batchSize: number, deleteBatch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const deleted = await deleteBatch();
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}

export interface Sweeper {
  /** Runs one sweep now (or joins the one running) and returns what it deleted. */
  runNow(): Promise<SweepResult | null>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs {@link sweepExpired} every `config.sweep.interval` seconds (not at all when 0). The timer is
 * unref'd, so it never keeps the process alive; a run never overlaps the previous one; a failure
 * (the database being down, say) is logged and the next run tries again.
 *
 * @example
 * const sweeper = startSweeper(deps);
 * process.on('SIGTERM', async () => { await sweeper.stop(); … });
 */
export function startSweeper(deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>): Sweeper {
  const { db, config, clock, logger } = deps;
  let running: Promise<SweepResult | null> | null = null;
  let stopped = false;

  const runNow = (): Promise<SweepResult | null> => {
    running ??= sweepExpired(db, config, clock.now())
      .then((result) => {
        if (result.challenges + result.sessions + result.counters > 0) logger.info({ deleted: result }, 'sweep');
        return result;
      })
      .catch((error: unknown) => {
        logger.warn({ err: error }, 'sweep failed; retrying at the next interval');
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };

  const timer = config.sweep.interval > 0 ? setInterval(() => void runNow(), config.sweep.interval * 1000) : null;
  timer?.unref();

  return {
    runNow: () => (stopped ? Promise.resolve(null) : runNow()),
    stop: async () => {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
