import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { observeAuditEvents } from '../audit/repository.js';
import { laneIdleCount, pipelinedReadStats } from '../db/fixed-query.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { retryStats } from '../db/transaction.js';

/**
 * The server's Prometheus metrics, in a registry of their own (never prom-client's global one: a
 * process may build many apps, each with its own database). Labels are route templates, error
 * codes, bucket and cause names: closed sets, never raw paths or user data.
 */
export interface Metrics {
  registry: Registry;
  /** One finished HTTP request; `route` is the matched template (`/auth/sessions/:id`). */
  observeRequest(request: {
    method: string;
    route: string;
    status: number;
    seconds: number;
    errorCode: string | null;
  }): void;
  /** A request refused by a rate limit, by bucket (`login:address`, `challenge:address`…). */
  rateLimited(bucket: string): void;
  /** One webhook delivery attempt's outcome. */
  webhookDelivery(outcome: 'delivered' | 'retrying' | 'failed'): void;
}

export interface MetricsOptions {
  db: Kysely<Database>;
  /** The PostgreSQL pool, for its total/idle/waiting connections (absent on PGlite). */
  pool?: pg.Pool;
  /**
   * Log lines dropped so far (server/logger.ts exports such a counter): read at each scrape as
   * `auth_log_lines_dropped_total`. Absent: the series stays at 0.
   */
  droppedLogLines?: () => number;
  /** Process metrics (CPU, memory, event loop, GC) from prom-client; default true. */
  processMetrics?: boolean;
}

/** Routes whose outcome counts as a sign-in, a sign-up or a step-up, by their success status. */
const ceremonies: Record<string, { counter: 'signIns' | 'signUps' | 'stepUps'; success: number }> = {
  '/auth/login/verify': { counter: 'signIns', success: 200 },
  '/auth/register/verify': { counter: 'signUps', success: 201 },
  '/auth/reauth/verify': { counter: 'stepUps', success: 200 },
};

/** Builds the metrics of one app; see {@link Metrics}. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const { db, pool, droppedLogLines } = options;

  const requests = new Counter({
    name: 'auth_http_requests_total',
    help: 'HTTP requests by method, route template and status.',
    labelNames: ['method', 'route', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'auth_http_request_duration_seconds',
    help: 'HTTP request latency by method and route template.',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const outcomes = {
    signIns: new Counter({
      name: 'auth_sign_ins_total',
      help: 'Sign-in verifications by outcome (success, failure) and refusal reason (the error code).',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    signUps: new Counter({
      name: 'auth_sign_ups_total',
      help: 'Registration verifications by outcome and refusal reason (the error code).',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    stepUps: new Counter({
      name: 'auth_step_ups_total',
      help: 'Step-up re-verifications by outcome and refusal reason (the error code).',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
  };
  const rateLimited = new Counter({
    name: 'auth_rate_limited_total',
    help: 'Requests refused by a rate limit, by bucket.',
    labelNames: ['bucket'],
    registers,
  });
  const sessionsCreated = new Counter({
    name: 'auth_sessions_created_total',
    help: 'Sessions created, by cause (sign_in, sign_up, recovery).',
    labelNames: ['cause'],
    registers,
  });
  const sessionsRevoked = new Counter({
    name: 'auth_sessions_revoked_total',
    help: 'Sessions ended before their expiry, by cause.',
    labelNames: ['cause'],
    registers,
  });
  const riskActions = new Counter({
    name: 'auth_risk_actions_total',
    help: 'Risk signals acted on, by signal and action.',
    labelNames: ['signal', 'action'],
    registers,
  });
  const webhook = new Counter({
    name: 'auth_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retrying, failed = given up).',
    labelNames: ['outcome'],
    registers,
  });

  new Gauge({
    name: 'auth_outbox_events',
    help: 'Security events in the webhook outbox: pending (not yet delivered) and failed (given up), read at scrape.',
    labelNames: ['state'],
    registers,
    async collect() {
      try {
        const row = await sql<{ pending: number; failed: number }>`
          select count(*) filter (where delivered_at is null and failed_at is null)::int as pending,
                 count(*) filter (where failed_at is not null)::int as failed
          from event_outbox`.execute(db);
        this.set({ state: 'pending' }, row.rows[0]?.pending ?? 0);
        this.set({ state: 'failed' }, row.rows[0]?.failed ?? 0);
      } catch {
        // The database is unreachable: keep the last values; auth_http_requests_total shows the 503s.
      }
    },
  });
  if (pool) {
    new Gauge({
      name: 'auth_db_pool_connections',
      help: 'PostgreSQL pool connections: total, idle, and requests waiting for one.',
      labelNames: ['state'],
      registers,
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount + laneIdleCount(pool));
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }
  new Counter({
    name: 'auth_db_retries_total',
    help: 'Transactions and single statements run again after a serialization failure or deadlock; exhausted = still failing after the last attempt.',
    labelNames: ['kind'],
    registers,
    collect() {
      const stats = retryStats(db);
      this.reset();
      this.inc({ kind: 'transaction' }, stats.transactionRetries);
      this.inc({ kind: 'statement' }, stats.statementRetries);
      this.inc({ kind: 'exhausted' }, stats.exhausted);
    },
  });
  if (pipelinedReadStats(db) !== null) {
    new Counter({
      name: 'auth_db_pipelined_reads_total',
      help: 'Session lookups sent over the pipelined read connections (query), and the socket writes that carried them (write); queries per write is the batching.',
      labelNames: ['kind'],
      registers,
      collect() {
        const stats = pipelinedReadStats(db);
        this.reset();
        this.inc({ kind: 'query' }, stats?.queries ?? 0);
        this.inc({ kind: 'write' }, stats?.writes ?? 0);
      },
    });
  }
  new Counter({
    name: 'auth_log_lines_dropped_total',
    help: 'Log lines dropped because the log destination could not keep up.',
    registers,
    collect() {
      this.reset();
      this.inc(droppedLogLines?.() ?? 0);
    },
  });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  // Sessions and risk actions are counted from the audit trail, once its transaction has committed,
  // so a retried or rolled-back attempt counts nothing.
  observeAuditEvents(db, (event) => {
    const details = (typeof event.details === 'string' ? JSON.parse(event.details) : (event.details ?? {})) as Record<
      string,
      unknown
    >;
    switch (event.type) {
      case 'user_registered':
        sessionsCreated.inc({ cause: 'sign_up' });
        break;
      case 'login_succeeded':
        sessionsCreated.inc({ cause: 'sign_in' });
        if (details.stepUpRequired === true) riskActions.inc({ signal: 'sign_in', action: 'step-up' });
        break;
      case 'recovery_completed':
        sessionsCreated.inc({ cause: 'recovery' });
        break;
      case 'login_refused':
        riskActions.inc({ signal: 'sign_in', action: 'refuse' });
        break;
      case 'logout':
        sessionsRevoked.inc({ cause: 'logout' });
        break;
      case 'user_disabled':
        sessionsRevoked.inc(
          { cause: 'user_disabled' },
          typeof details.revokedSessions === 'number' ? details.revokedSessions : 0,
        );
        break;
      case 'token_reuse_detected':
        sessionsRevoked.inc({ cause: 'secret_reuse' });
        break;
      case 'session_revoked':
        sessionsRevoked.inc({ cause: revocationCause(event, details) });
        break;
      case 'session_suspect':
      case 'session_network_changed': {
        const signal = typeof details.signal === 'string' ? details.signal : 'unknown';
        const action = typeof details.action === 'string' ? details.action : 'unknown';
        riskActions.inc({ signal, action });
        if (action === 'revoke') sessionsRevoked.inc({ cause: 'risk' });
        break;
      }
    }
  });

  return {
    registry,
    observeRequest({ method, route, status, seconds, errorCode }) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
      const ceremony = ceremonies[route];
      if (ceremony && method === 'POST') {
        const success = status === ceremony.success;
        outcomes[ceremony.counter].inc({
          outcome: success ? 'success' : 'failure',
          reason: success ? '' : (errorCode ?? `status_${status}`),
        });
      }
    },
    rateLimited(bucket) {
      rateLimited.inc({ bucket });
    },
    webhookDelivery(outcome) {
      webhook.inc({ outcome });
    },
  };
}

/** The cause of a `session_revoked` event: its `details.cause`, else what revoked every session. */
function revocationCause(event: AuditEventRow, details: Record<string, unknown>): string {
  if (typeof details.cause === 'string' && /^[a-z_]{1,40}$/.test(details.cause)) return details.cause;
  if (details.all === true) return `all_by_${event.actor}`;
  return `by_${event.actor}`;
}
