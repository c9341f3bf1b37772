import type { Config } from '../config.js';
import type { EventOutboxRow } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { claimDueEvents, markEventDelivered, markEventFailed, pruneOutbox } from './outbox.js';
import { signatureHeader, signWebhookBody } from './signature.js';

export interface DispatchResult {
  /** Events taken for delivery in this run. */
  claimed: number;
  /** Answered 2xx. */
  delivered: number;
  /** Failed and scheduled again. */
  retrying: number;
  /** Failed for the last time (kept with `failed_at`). */
  failed: number;
}

export interface DispatchOptions {
  /** Events claimed and sent at once (in parallel) per batch. */
  batchSize?: number;
  /** Upper bound on batches per run; the next run continues. */
  maxBatches?: number;
  /** Aborts deliveries in flight (on shutdown); they count as failed attempts and are retried. */
  signal?: AbortSignal;
}

/** Seconds to wait after the `attempts`-th failed attempt: 30 s doubling per attempt, at most 1 h. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(30 * 2 ** Math.max(0, attempts - 1), 3600);
}

/**
 * How long a claim keeps an event from other dispatchers: a whole attempt (bounded by the HTTP
 * timeout) and the write of its outcome fit in it with room to spare, so a live dispatcher never
 * loses its lease mid-attempt, and a dead one holds the event for no longer than this.
 */
export function leaseSeconds(config: Pick<Config, 'webhook'>): number {
  return config.webhook.timeout * 2 + 30;
}

/**
 * Delivers every security event that is due: claims a batch (see `claimDueEvents`: leased, so
 * concurrent dispatchers on any number of instances never send one event at the same time), POSTs
 * each to `WEBHOOK_URL` with its signature, records the outcome, and repeats until a claim comes
 * back empty (not merely short: a concurrent dispatcher's claim in progress can leave one short
 * while due events remain). A 2xx marks the event delivered; anything else (another status, a
 * timeout, a refused connection) schedules the next attempt after {@link retryDelaySeconds}, until
 * `webhook.maxAttempts`. Time comes from `deps.clock`. Does nothing when no webhook is configured.
 *
 * At-least-once: an event is marked delivered only after the receiver's 2xx, so a crash or a lost
 * answer means it is sent again (with the same `Webhook-Id`).
 */
export async function dispatchDue(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger' | 'metrics'>,
  { batchSize = 10, maxBatches = 10, signal }: DispatchOptions = {},
): Promise<DispatchResult> {
  const result: DispatchResult = { claimed: 0, delivered: 0, retrying: 0, failed: 0 };
  const { url, secret } = deps.config.webhook;
  if (url === null || secret === null) return result;
  for (let batch = 0; batch < maxBatches && !signal?.aborted; batch++) {
    const now = deps.clock.now();
    const claimed = await claimDueEvents(
      deps.db,
      now,
      new Date(now.getTime() + leaseSeconds(deps.config) * 1000),
      batchSize,
    );
    result.claimed += claimed.length;
    const outcomes = await Promise.all(claimed.map((event) => deliverOne(deps, { url, secret, event, signal })));
    for (const outcome of outcomes) {
      result[outcome] += 1;
      deps.metrics?.webhookDelivery(outcome);
    }
    if (claimed.length === 0) break;
  }
  return result;
}

/** One delivery attempt of a claimed event and the write of its outcome (time read before and after the POST). */
async function deliverOne(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  input: { url: string; secret: string; event: EventOutboxRow; signal: AbortSignal | undefined },
): Promise<'delivered' | 'retrying' | 'failed'> {
  const { db, config, clock, logger } = deps;
  const { event } = input;
  const error = await post({ ...input, timeoutSeconds: config.webhook.timeout }, clock.now());
  const now = clock.now();
  try {
    if (error === null) {
      await markEventDelivered(db, event.id, now);
      return 'delivered';
    }
    const giveUp = event.attempts >= config.webhook.maxAttempts;
    await markEventFailed(
      db,
      event,
      { error, retryAt: giveUp ? null : new Date(now.getTime() + retryDelaySeconds(event.attempts) * 1000) },
      now,
    );
    if (giveUp) {
      logger.error(
        { eventId: event.id, type: event.type, attempts: event.attempts, error },
        'webhook delivery given up',
      );
      return 'failed';
    }
    logger.warn(
      { eventId: event.id, type: event.type, attempts: event.attempts, error },
      'webhook delivery failed; will retry',
    );
    return 'retrying';
  } catch (dbError) {
    // The outcome could not be written: the lease runs out and the event is sent again, which
    // at-least-once allows (receivers deduplicate on Webhook-Id).
    logger.error({ err: dbError, eventId: event.id }, 'could not record a webhook delivery outcome');
    return 'retrying';
  }
}

/** One signed POST; null on a 2xx, else a short description of the failure (no response body). */
async function post(
  input: {
    url: string;
    secret: string;
    event: EventOutboxRow;
    timeoutSeconds: number;
    signal: AbortSignal | undefined;
  },
  now: Date,
): Promise<string | null> {
  const { url, secret, event, timeoutSeconds, signal } = input;
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'passkey-auth-webhook/1',
        'Webhook-Id': event.id,
        'Webhook-Attempt': String(event.attempts),
        [signatureHeader]: signWebhookBody(secret, event.body, now),
      },
      body: event.body,
      // A redirect is not a delivery; following it would send the event where nobody configured.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    await response.body?.cancel().catch(() => {});
    return response.status >= 200 && response.status < 300 ? null : `HTTP ${response.status}`;
  } catch (error) {
    if (timeout.aborted) return `no answer within ${timeoutSeconds} s`;
    if (signal?.aborted) return 'dispatcher stopped';
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = (cause as { code?: unknown }).code;
    return (typeof code === 'string' ? code : cause instanceof Error ? cause.message : 'request failed').slice(0, 200);
  }
}

export interface EventDispatcher {
  /** Runs one dispatch now (or joins the one running). */
  runNow(): Promise<DispatchResult | null>;
  /** Stops the timer, aborts deliveries in flight and waits for the run to end. */
  stop(): Promise<void>;
}

/**
 * Runs {@link dispatchDue} every `webhook.interval` seconds, and about hourly deletes delivered and
 * given-up events older than `webhook.retention` (without a webhook, every event that old). The
 * timer is unref'd; runs never overlap; a failure is logged and the next run tries again. Safe on
 * several instances at once.
 *
 * @example
 * const dispatcher = startEventDispatcher(deps);
 * process.on('SIGTERM', async () => { await dispatcher.stop(); … });
 */
export function startEventDispatcher(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger' | 'metrics'>,
): EventDispatcher {
  const { db, config, clock, logger } = deps;
  const stopping = new AbortController();
  let running: Promise<DispatchResult | null> | null = null;
  let lastPrune = 0;

  const run = async (): Promise<DispatchResult | null> => {
    const result = await dispatchDue(deps, { signal: stopping.signal });
    const now = clock.now();
    if (now.getTime() - lastPrune >= 3600_000) {
      lastPrune = now.getTime();
      const pruned = await pruneOutbox(db, new Date(now.getTime() - config.webhook.retention * 1000), {
        undelivered: config.webhook.url === null,
      });
      if (pruned > 0) logger.info({ pruned }, 'event outbox pruned');
    }
    return result;
  };

  const runNow = (): Promise<DispatchResult | null> => {
    running ??= run()
      .catch((error: unknown) => {
        logger.warn({ err: error }, 'event dispatch failed; retrying at the next interval');
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };

  const timer = setInterval(() => void runNow(), config.webhook.interval * 1000);
  timer.unref();

  return {
    runNow: () => (stopping.signal.aborted ? Promise.resolve(null) : runNow()),
    stop: async () => {
      stopping.abort();
      clearInterval(timer);
      await running;
    },
  };
}
