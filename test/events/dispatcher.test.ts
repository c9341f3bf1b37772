import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { recordAuditEvent } from '../../server/audit/repository.js';
import type { Config } from '../../server/config.js';
import { createPostgresKysely } from '../../server/db/database.js';
import type { Database } from '../../server/db/schema.js';
import type { Deps } from '../../server/deps.js';
import { dispatchDue, leaseSeconds, retryDelaySeconds, startEventDispatcher } from '../../server/events/dispatcher.js';
import { claimDueEvents, pruneOutbox } from '../../server/events/outbox.js';
import { verifyWebhookSignature } from '../../server/events/signature.js';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { type Receiver, startReceiver } from './receiver.js';

const secret = 'whsec-test-0123456789abcdefghijklmnop';

let receiver: Receiver;
let t: TestApp;
/** Database handles opened by a test (a "restarted" or second instance), closed at the end. */
const extraDatabases: Kysely<Database>[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
  t = await createTestApp({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, WEBHOOK_MAX_ATTEMPTS: '4' });
});
afterAll(async () => {
  for (const db of extraDatabases) await db.destroy();
  await t?.close();
  await receiver?.close();
});
beforeEach(async () => {
  receiver.reset();
  await t.deps.db.deleteFrom('event_outbox').execute();
});

/** Writes `count` security events the way the server does: audit event and outbox row in one transaction. */
async function writeEvents(count: number): Promise<string[]> {
  return t.deps.db.transaction().execute(async (trx) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const row = await recordAuditEvent(
        trx,
        { type: 'passkey_added', userId: randomUUID(), passkeyId: `key-${i}`, details: { aaguid: randomUUID() } },
        t.clock.now(),
      );
      ids.push(row.id);
    }
    return ids;
  });
}

/**
 * Dependencies of another server instance: on PostgreSQL its own connection pool to the same
 * database, so dispatchers really run at the same time; on PGlite the one embedded instance.
 */
function anotherInstance(overrides: { config?: Config } = {}): Deps {
  let db = t.deps.db;
  if (t.database.url) {
    db = createPostgresKysely(new pg.Pool({ connectionString: t.database.url, max: 5 }));
    extraDatabases.push(db);
  }
  return { db, config: overrides.config ?? t.config, clock: t.clock, logger: pino({ level: 'silent' }) };
}

function withWebhook(changes: Partial<Config['webhook']>): Config {
  return { ...t.config, webhook: { ...t.config.webhook, ...changes } };
}

async function outbox() {
  return t.deps.db.selectFrom('event_outbox').selectAll().orderBy('id').execute();
}

describe('dispatching security events to the webhook', () => {
  it('delivers each event exactly once after its own temporary failures, backing off between attempts', async () => {
    const ids = await writeEvents(3);
    receiver.reset({ failuresPerEvent: 2 });

    expect(await dispatchDue(t.deps)).toEqual({ claimed: 3, delivered: 0, retrying: 3, failed: 0 });
    t.clock.advance(retryDelaySeconds(1) - 1);
    expect((await dispatchDue(t.deps)).claimed).toBe(0);
    t.clock.advance(1);
    expect(await dispatchDue(t.deps)).toEqual({ claimed: 3, delivered: 0, retrying: 3, failed: 0 });
    t.clock.advance(retryDelaySeconds(2) - 1);
    expect((await dispatchDue(t.deps)).claimed).toBe(0);
    t.clock.advance(1);
    const deliveredAt = t.clock.now();
    expect(await dispatchDue(t.deps)).toEqual({ claimed: 3, delivered: 3, retrying: 0, failed: 0 });
    t.clock.advance(86_400);
    expect((await dispatchDue(t.deps)).claimed).toBe(0);

    expect(receiver.accepted().sort()).toEqual([...ids].sort());
    expect(receiver.requests).toHaveLength(9);
    for (const row of await outbox()) {
      expect(row).toMatchObject({
        attempts: 3,
        last_error: null,
        locked_until: null,
        failed_at: null,
        delivered_at: deliveredAt,
      });
    }
  });

  it('schedules retries 30 s apart, doubling, at most an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 12].map(retryDelaySeconds)).toEqual([
      30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600,
    ]);
  });

  it('signs the body and timestamp so the receiver can verify them with the secret', async () => {
    const { user } = await t.signUp('wendy');
    expect(await dispatchDue(t.deps)).toMatchObject({ delivered: 1 });
    const [request] = receiver.requests;
    const body = JSON.parse(request!.body);
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: 'account.created',
      occurredAt: t.clock.now().toISOString(),
      userId: user.id,
      data: expect.objectContaining({ actor: 'user', sessionId: expect.any(String), passkeyId: expect.any(String) }),
    });
    expect(request!.headers['webhook-id']).toBe(body.id);
    expect(request!.headers['content-type']).toBe('application/json');
    const header = String(request!.headers['webhook-signature']);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);

    const now = t.clock.now();
    expect(verifyWebhookSignature(secret, header, request!.body, { now })).toBe(true);
    expect(verifyWebhookSignature(secret, header, Buffer.from(request!.body), { now })).toBe(true);
    expect(verifyWebhookSignature(`${secret}x`, header, request!.body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, header, request!.body.replace(user.id, randomUUID()), { now })).toBe(false);
    expect(verifyWebhookSignature(secret, header, request!.body, { now: new Date(now.getTime() + 301_000) })).toBe(
      false,
    );
  });

  it('sends the same id and the same body on every attempt, with a fresh signature', async () => {
    await writeEvents(1);
    receiver.reset({ failuresPerEvent: 1 });
    await dispatchDue(t.deps);
    t.clock.advance(retryDelaySeconds(1));
    await dispatchDue(t.deps);
    const [first, second] = receiver.requests;
    expect(second!.body).toBe(first!.body);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect([first!.headers['webhook-attempt'], second!.headers['webhook-attempt']]).toEqual(['1', '2']);
    expect(second!.headers['webhook-signature']).not.toBe(first!.headers['webhook-signature']);
    expect(
      verifyWebhookSignature(secret, String(second!.headers['webhook-signature']), second!.body, {
        now: t.clock.now(),
      }),
    ).toBe(true);
  });

  it('two dispatchers racing deliver every event once and never the same event at the same time', async () => {
    const ids = await writeEvents(40);
    receiver.reset({ delayMs: 15 });
    const a = t.deps;
    const b = anotherInstance();
    const [ra, rb] = await Promise.all([dispatchDue(a, { batchSize: 4 }), dispatchDue(b, { batchSize: 4 })]);
    expect(ra.claimed + rb.claimed).toBe(40);
    expect(ra.claimed).toBeGreaterThan(0);
    expect(rb.claimed).toBeGreaterThan(0);
    expect(receiver.accepted().sort()).toEqual([...ids].sort());
    expect(receiver.requests).toHaveLength(40);
    expect(receiver.maxConcurrentPerEvent()).toBe(1);

    // And again through retries: every event fails once, then both race for the retries.
    const more = await writeEvents(12);
    receiver.reset({ failuresPerEvent: 1, delayMs: 15 });
    await Promise.all([dispatchDue(a, { batchSize: 3 }), dispatchDue(b, { batchSize: 3 })]);
    t.clock.advance(retryDelaySeconds(1));
    await Promise.all([dispatchDue(a, { batchSize: 3 }), dispatchDue(b, { batchSize: 3 })]);
    expect(receiver.accepted().sort()).toEqual([...more].sort());
    expect(receiver.requests).toHaveLength(24);
    expect(receiver.maxConcurrentPerEvent()).toBe(1);
  });

  it('loses nothing in a crash between commit and delivery: a restarted dispatcher delivers the event', async () => {
    const { authenticator, user } = await t.signUp('xavier');
    await t.deps.db.deleteFrom('event_outbox').execute();
    const response = await t.signIn(authenticator);
    expect(sessionCookieOf(response)).not.toBeNull();
    // The process dies here: the sign-in committed, nothing was dispatched.
    const restarted = anotherInstance();
    expect(await dispatchDue(restarted)).toMatchObject({ claimed: 1, delivered: 1 });
    expect(receiver.requests.map((r) => JSON.parse(r.body))).toEqual([
      expect.objectContaining({ type: 'session.created', userId: user.id }),
    ]);
  });

  it('retries an event whose dispatcher died after claiming it, once its lease has expired', async () => {
    const [id] = await writeEvents(1);
    const now = t.clock.now();
    // A dispatcher claims the event and dies before sending it.
    expect(
      await claimDueEvents(t.deps.db, now, new Date(now.getTime() + leaseSeconds(t.config) * 1000), 10),
    ).toHaveLength(1);

    expect((await dispatchDue(anotherInstance())).claimed).toBe(0);
    t.clock.advance(leaseSeconds(t.config) - 1);
    expect((await dispatchDue(anotherInstance())).claimed).toBe(0);
    t.clock.advance(1);
    expect(await dispatchDue(anotherInstance())).toMatchObject({ claimed: 1, delivered: 1 });
    expect(receiver.accepted()).toEqual([id]);
    expect((await outbox())[0]).toMatchObject({ attempts: 2, locked_until: null });
  });

  it('gives up after the last attempt and keeps the event as a dead letter', async () => {
    await writeEvents(1);
    receiver.reset({ alwaysStatus: 503 });
    const results = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      results.push(await dispatchDue(t.deps));
      t.clock.advance(retryDelaySeconds(attempt));
    }
    expect(results.map((r) => r.failed)).toEqual([0, 0, 0, 1]);
    t.clock.advance(86_400);
    expect((await dispatchDue(t.deps)).claimed).toBe(0);
    expect(receiver.requests).toHaveLength(4);
    const [row] = await outbox();
    expect(row).toMatchObject({ attempts: 4, last_error: 'HTTP 503', delivered_at: null, locked_until: null });
    expect(row!.failed_at).toBeInstanceOf(Date);
  });

  it('counts a redirect as a failed attempt instead of following it', async () => {
    await writeEvents(1);
    receiver.reset({ alwaysStatus: 302 });
    expect(await dispatchDue(t.deps)).toMatchObject({ retrying: 1 });
    expect((await outbox())[0]).toMatchObject({ last_error: 'HTTP 302' });
  });

  it('bounds each attempt with a timeout and retries it', async () => {
    const [id] = await writeEvents(1);
    receiver.reset({ delayMs: 1500 });
    const impatient = { ...t.deps, config: withWebhook({ timeout: 1 }) };
    const started = Date.now();
    expect(await dispatchDue(impatient)).toMatchObject({ retrying: 1 });
    expect(Date.now() - started).toBeLessThan(1400);
    expect((await outbox())[0]).toMatchObject({ last_error: 'no answer within 1 s', attempts: 1 });
    // Let the late answer land before the receiver is reused.
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1), { timeout: 3000 });

    receiver.reset();
    t.clock.advance(retryDelaySeconds(1));
    expect(await dispatchDue(impatient)).toMatchObject({ delivered: 1 });
    expect(receiver.accepted()).toEqual([id]);
  });

  it('retries when the receiver cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await writeEvents(1);
    const unreachable = { ...t.deps, config: withWebhook({ url: `http://127.0.0.1:${port}/` }) };
    expect(await dispatchDue(unreachable)).toMatchObject({ retrying: 1 });
    expect((await outbox())[0]).toMatchObject({ last_error: 'ECONNREFUSED', attempts: 1, delivered_at: null });
  });

  it('delivers nothing without a webhook, and keeps the events until they are pruned', async () => {
    await writeEvents(2);
    const off = { ...t.deps, config: withWebhook({ url: null, secret: null }) };
    expect(await dispatchDue(off)).toEqual({ claimed: 0, delivered: 0, retrying: 0, failed: 0 });
    expect(await outbox()).toHaveLength(2);
    expect(receiver.requests).toHaveLength(0);
    expect(await pruneOutbox(t.deps.db, t.clock.now(), { undelivered: true })).toBe(0);
    t.clock.advance(1);
    expect(await pruneOutbox(t.deps.db, t.clock.now(), { undelivered: true })).toBe(2);
  });

  it('prunes delivered and given-up events after the retention, never pending ones', async () => {
    await writeEvents(2);
    receiver.reset({ alwaysStatus: 500 });
    await dispatchDue(t.deps);
    receiver.reset();
    t.clock.advance(retryDelaySeconds(1));
    await writeEvents(1);
    expect(await dispatchDue(t.deps)).toMatchObject({ delivered: 3 });
    await writeEvents(1);
    t.clock.advance(1);
    // Three delivered, one pending.
    expect(await pruneOutbox(t.deps.db, t.clock.now())).toBe(3);
    expect(await outbox()).toMatchObject([{ delivered_at: null }]);
  });

  it('runs on a timer, and stopping aborts a delivery in flight, which is retried later', async () => {
    const [id] = await writeEvents(1);
    receiver.reset({ delayMs: 1000 });
    const dispatcher = startEventDispatcher(t.deps);
    const run = dispatcher.runNow();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await dispatcher.stop();
    expect(Date.now() - started).toBeLessThan(700);
    expect(await run).toMatchObject({ claimed: 1, retrying: 1 });
    expect(await dispatcher.runNow()).toBeNull();
    expect((await outbox())[0]).toMatchObject({ last_error: 'dispatcher stopped', attempts: 1, delivered_at: null });
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1), { timeout: 3000 });

    receiver.reset();
    t.clock.advance(retryDelaySeconds(1));
    const next = startEventDispatcher(t.deps);
    expect(await next.runNow()).toMatchObject({ delivered: 1 });
    await next.stop();
    expect(receiver.accepted()).toEqual([id]);
  });
});
