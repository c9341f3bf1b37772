import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';

const token = 'metrics-token-0123456789abcdef0123456789';

type Family = {
  name: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }>;
};

/** Scrapes /metrics and parses it as Prometheus text (the parser throws on malformed text). */
async function scrape(t: TestApp): Promise<Family[] & { text: string }> {
  const response = await t.request('GET', '/metrics', { headers: { Authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return Object.assign(parsePrometheusTextFormat(text) as Family[], { text });
}

/** The value of one series (0 when it does not exist yet). */
function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  const series = family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return series.reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0);
}

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ METRICS_TOKEN: token, RATE_LIMIT_PER_IDENTIFIER: '5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is off (404) unless METRICS_TOKEN or METRICS_PORT is set', async () => {
    const off = createApp({ ...t.deps, metrics: undefined, config: loadConfig({ ORIGIN: origin }) });
    expect((await off.request('/metrics')).status).toBe(404);
  });

  it('refuses a scrape without the token, or with a wrong one', async () => {
    const none = await t.get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await none.json()).error.code).toBe('unauthenticated');
    const wrong = await t.request('GET', '/metrics', { headers: { Authorization: `Bearer ${token}x` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('auth_');
  });

  it('follows a journey: one sign-up, two sign-ins, one refused assertion, one 429, one revocation', async () => {
    const before = await scrape(t);
    expect(value(before, 'auth_sign_ins_total')).toBe(0);
    expect(before.some((f) => f.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(before.some((f) => f.name === 'auth_log_lines_dropped_total')).toBe(true);

    const { cookie, authenticator } = await t.signUp('metrics-user');
    const first = await t.signIn(authenticator);
    expect(first.status).toBe(200);
    expect((await t.signIn(authenticator)).status).toBe(200);
    expect((await t.signIn(authenticator, { corruptSignature: true })).status).toBe(401);
    // RATE_LIMIT_PER_IDENTIFIER=5: the sixth request naming one username is refused.
    for (let i = 0; i < 5; i++)
      expect((await t.post('/auth/register/options', { username: 'limited' })).status).toBe(200);
    expect((await t.post('/auth/register/options', { username: 'limited' })).status).toBe(429);
    const otherId = sessionCookieOf(first)!.split('=')[1]!.split('.')[0]!;
    expect((await t.request('DELETE', `/auth/sessions/${otherId}`, { cookie })).status).toBe(204);
    await t.get('/no/such/path-with-user-data-4711');

    const after = await scrape(t);
    expect(value(after, 'auth_sign_ups_total', { outcome: 'success' })).toBe(1);
    expect(value(after, 'auth_sign_ins_total', { outcome: 'success' })).toBe(2);
    expect(value(after, 'auth_sign_ins_total', { outcome: 'failure', reason: 'verification_failed' })).toBe(1);
    expect(value(after, 'auth_rate_limited_total', { bucket: 'register:identifier' })).toBe(1);
    expect(value(after, 'auth_rate_limited_total')).toBe(1);
    expect(value(after, 'auth_sessions_created_total', { cause: 'sign_up' })).toBe(1);
    expect(value(after, 'auth_sessions_created_total', { cause: 'sign_in' })).toBe(2);
    expect(value(after, 'auth_sessions_revoked_total', { cause: 'revoked_by_user' })).toBe(1);
    expect(value(after, 'auth_sessions_revoked_total')).toBe(1);
    // Route labels are templates; the path of the unmatched request is nowhere.
    expect(
      value(after, 'auth_http_requests_total', { method: 'DELETE', route: '/auth/sessions/:id', status: '204' }),
    ).toBe(1);
    expect(
      value(after, 'auth_http_requests_total', { method: 'POST', route: '/auth/register/options', status: '429' }),
    ).toBe(1);
    expect(value(after, 'auth_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    // The parser flattens histogram labels away, so the histogram's count is read from the text.
    expect(after.find((f) => f.name === 'auth_http_request_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(after.text).toContain(
      'auth_http_request_duration_seconds_count{method="POST",route="/auth/login/verify"} 3\n',
    );
    const labels = after.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})));
    expect(labels.some((l) => l.includes(otherId) || l.includes('4711'))).toBe(false);
    // Collected at scrape: the outbox holds the security events (none delivered: no webhook).
    expect(value(after, 'auth_outbox_events', { state: 'pending' })).toBeGreaterThanOrEqual(4);
  });
});

describe.runIf(process.env.DATABASE_URL)('auth_db_pipelined_reads_total (PostgreSQL)', () => {
  it('counts the session lookups sent over the pipelined connections and the writes that carried them', async () => {
    const t = await createTestApp({ METRICS_TOKEN: token });
    try {
      const { cookie } = await t.signUp('pipelined-metrics');
      const before = await scrape(t);
      const queries = value(before, 'auth_db_pipelined_reads_total', { kind: 'query' });
      // Twenty session checks at once: twenty lookups, in fewer writes than lookups.
      const checks = await Promise.all(
        Array.from({ length: 20 }, () => t.request('GET', '/auth/session', { headers: { Cookie: cookie } })),
      );
      expect(checks.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
      const after = await scrape(t);
      expect(value(after, 'auth_db_pipelined_reads_total', { kind: 'query' }) - queries).toBe(20);
      const writes =
        value(after, 'auth_db_pipelined_reads_total', { kind: 'write' }) -
        value(before, 'auth_db_pipelined_reads_total', { kind: 'write' });
      expect(writes).toBeGreaterThan(0);
      expect(writes).toBeLessThan(20);
    } finally {
      await t.close();
    }
  });
});

describe('METRICS_PORT listener app', () => {
  it('serves GET /metrics without a token (it listens on 127.0.0.1 only) and nothing else', async () => {
    const t = await createTestApp({ METRICS_PORT: '9464' });
    try {
      const { metricsApp } = await import('../../server/metrics/routes.js');
      const { createMetrics } = await import('../../server/metrics/metrics.js');
      const app = metricsApp(createMetrics({ db: t.deps.db, processMetrics: false }));
      const response = await app.request('/metrics');
      expect(response.status).toBe(200);
      const families = parsePrometheusTextFormat(await response.text()) as Family[];
      expect(families.some((f) => f.name === 'auth_outbox_events')).toBe(true);
      expect((await app.request('/auth/session')).status).toBe(404);
      // On the main port, METRICS_PORT alone does not expose /metrics.
      expect((await t.get('/metrics')).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
