import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enforceRateLimit } from '../../server/http/rate-limit.js';
import { startSweeper, sweepExpired } from '../../server/maintenance/sweep.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({
    SESSION_RETENTION: '86400',
    SESSION_IDLE_TIMEOUT: '3600',
    SESSION_ABSOLUTE_LIFETIME: '2592000',
    CHALLENGE_TTL: '300',
  });
});
afterAll(async () => {
  await t?.close();
});

const count = async (table: 'webauthn_challenge' | 'session' | 'rate_limit') =>
  Number(
    (
      await t.database.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

const sessionId = (cookie: string) => cookie.split('=')[1]!.split('.')[0]!;

describe('sweep of expired rows', () => {
  it('deletes expired challenges and keeps live ones', async () => {
    await t.post('/auth/login/options', {});
    await t.post('/auth/login/options', {});
    t.clock.advance(200);
    await t.post('/auth/login/options', {});
    expect(await count('webauthn_challenge')).toBe(3);
    t.clock.advance(101);
    const result = await sweepExpired(t.deps.db, t.config, t.clock.now());
    expect(result.challenges).toBe(2);
    expect(await count('webauthn_challenge')).toBe(1);
    t.clock.advance(300);
    await sweepExpired(t.deps.db, t.config, t.clock.now());
    expect(await count('webauthn_challenge')).toBe(0);
  });

  it('deletes sessions only after they have been expired or revoked for the retention period', async () => {
    const live = await t.signUp('sweep-live');
    const revoked = await t.signUp('sweep-revoked');
    const idle = await t.signUp('sweep-idle');
    expect((await t.post('/auth/logout', {}, revoked.cookie)).status).toBe(204);
    const ids = async () => (await t.database.db.selectFrom('session').select('id').execute()).map((r) => r.id);

    // Within the retention period nothing goes, even the revoked session (kept for the record).
    t.clock.advance(3000);
    expect((await t.get('/auth/session', live.cookie)).status).toBe(200);
    await sweepExpired(t.deps.db, t.config, t.clock.now());
    expect(await ids()).toEqual(expect.arrayContaining([live, revoked, idle].map((s) => sessionId(s.cookie))));

    // A day and an idle timeout later: the revoked one and the idle-expired one are deleted; the one in use stays.
    for (let step = 0; step < 31; step++) {
      t.clock.advance(3000);
      expect((await t.get('/auth/session', live.cookie)).status).toBe(200);
    }
    const result = await sweepExpired(t.deps.db, t.config, t.clock.now());
    expect(result.sessions).toBe(2);
    const left = await ids();
    expect(left).toContain(sessionId(live.cookie));
    expect(left).not.toContain(sessionId(revoked.cookie));
    expect(left).not.toContain(sessionId(idle.cookie));

    // Past its absolute lifetime plus the retention period, the used one goes too.
    t.clock.advance(31 * 86400);
    await sweepExpired(t.deps.db, t.config, t.clock.now());
    expect(await ids()).not.toContain(sessionId(live.cookie));
  });

  it('deletes rate-limit counters whose window has passed', async () => {
    const deps = { db: t.deps.db, clock: t.clock };
    await enforceRateLimit(deps, { bucket: 'test:short', key: 'a', limit: 5, windowSeconds: 60 });
    await enforceRateLimit(deps, { bucket: 'test:long', key: 'a', limit: 5, windowSeconds: 3600 });
    const before = await count('rate_limit');
    t.clock.advance(61);
    expect((await sweepExpired(t.deps.db, t.config, t.clock.now())).counters).toBe(1);
    expect(await count('rate_limit')).toBe(before - 1);
  });

  it('works through more rows than one batch', async () => {
    const now = t.clock.now();
    await t.database.db
      .insertInto('webauthn_challenge')
      .values(
        Array.from({ length: 25 }, () => ({
          id: randomBytes(32),
          purpose: 'authentication' as const,
          created_at: now,
          expires_at: now,
        })),
      )
      .execute();
    const result = await sweepExpired(t.deps.db, t.config, t.clock.now(), { batchSize: 4 });
    expect(result.challenges).toBe(25);
    expect(await count('webauthn_challenge')).toBe(0);
  });

  it('is safe when several instances sweep at once: every expired row goes, no run fails', async () => {
    const now = t.clock.now();
    await t.database.db
      .insertInto('webauthn_challenge')
      .values(
        Array.from({ length: 60 }, () => ({
          id: randomBytes(32),
          purpose: 'authentication' as const,
          created_at: now,
          expires_at: now,
        })),
      )
      .execute();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => sweepExpired(t.deps.db, t.config, t.clock.now(), { batchSize: 7 })),
    );
    expect(results.reduce((sum, r) => sum + r.challenges, 0)).toBe(60);
    expect(await count('webauthn_challenge')).toBe(0);
  });

  it('runs periodically from startSweeper, and stops', async () => {
    const config = { ...t.config, sweep: { ...t.config.sweep, interval: 1 } };
    const sweeper = startSweeper({ db: t.deps.db, config, clock: t.clock, logger: pino({ level: 'silent' }) });
    try {
      await t.post('/auth/login/options', {});
      t.clock.advance(301);
      expect(await count('webauthn_challenge')).toBe(1);
      await expect.poll(() => count('webauthn_challenge'), { timeout: 5000, interval: 100 }).toBe(0);
    } finally {
      await sweeper.stop();
    }
    expect(await sweeper.runNow()).toBeNull();
  });
});
