import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryStats } from '../../server/db/transaction.js';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator } from '../helpers/authenticator.js';
import { addPasskey } from '../helpers/lifecycle.js';

// Serialization failures need concurrent transactions on a real server; PGlite has one connection.
describe.skipIf(!process.env.DATABASE_URL)('concurrent writes for one user under SERIALIZABLE', () => {
  let t: TestApp;
  const previousIsolation = process.env.TEST_ISOLATION;

  beforeAll(async () => {
    // This file's database runs every transaction SERIALIZABLE, whatever the rest of the run uses.
    process.env.TEST_ISOLATION = 'serializable';
    t = await createTestApp({
      RATE_LIMIT_PER_ADDRESS: '0',
      RATE_LIMIT_PER_IDENTIFIER: '0',
      RATE_LIMIT_CHALLENGES_PER_ADDRESS: '0',
      REAUTH_WINDOW: '86400',
      SESSION_SECRET_ROTATION_AGE: '60',
      SESSION_SECRET_GRACE: '300',
    });
  });
  afterAll(async () => {
    if (previousIsolation === undefined) delete process.env.TEST_ISOLATION;
    else process.env.TEST_ISOLATION = previousIsolation;
    await t?.close();
  });

  it('retries conflicting transactions: no request fails, every committed change has its audit row and outbox event', async () => {
    const isolation = await t.database.db
      .selectNoFrom((eb) => eb.fn<string>('current_setting', [eb.val('transaction_isolation')]).as('level'))
      .executeTakeFirstOrThrow();
    expect(isolation.level).toBe('serializable');

    const { cookie: first, user, authenticator } = await t.signUp('serial');
    let main = first;
    const statuses: Array<{ kind: string; status: number }> = [];
    const record = (kind: string) => (response: Response) => {
      statuses.push({ kind, status: response.status });
      return response;
    };
    const stats = retryStats(t.database.db);
    let signIns = 0;
    let added = 0;

    // Concurrent assertions of one authenticator whose counter increments can arrive out of order, and
    // the counter's compare-and-set rightly refuses the older one as a regression: sign in as a synced
    // passkey does, with a counter that stays 0.
    const signIn = () => t.signIn(authenticator, { signCount: 0 });
    for (let round = 0; round < 30; round++) {
      // Old enough for POST /auth/token to rotate the session secrets.
      t.clock.advance(61);
      const signInCookies = await Promise.all(
        [0, 1].map(async () => {
          const response = record('sign-in')(await signIn());
          return sessionCookieOf(response);
        }),
      );
      const other = signInCookies.find((c): c is string => c !== null);
      const otherId = other?.split('=')[1]?.split('.')[0];
      const results = await Promise.all([
        signIn().then(record('sign-in')),
        signIn().then(record('sign-in')),
        addPasskey(t, main, createSoftwareAuthenticator({ origin })).then(record('add-passkey')),
        t.post('/auth/sessions/revoke-others', {}, main).then(record('revoke-others')),
        otherId
          ? t.request('DELETE', `/auth/sessions/${otherId}`, { cookie: main }).then(record('revoke-one'))
          : Promise.resolve(null),
        t.post('/auth/token', undefined, main).then(record('rotate-secret')),
        ...(other ? [t.post('/auth/token', undefined, other).then(record('rotate-other-secret'))] : []),
      ]);
      const rotated = results[5] ? sessionCookieOf(results[5]) : null;
      if (rotated) main = rotated;
      if (round >= 3 && stats.transactionRetries + stats.statementRetries > 0) break;
    }

    expect(statuses.filter((s) => s.status >= 500)).toEqual([]);
    // The session making the requests is never revoked (revoke-others spares it), so each kind succeeds.
    for (const { kind, status } of statuses) {
      if (kind === 'sign-in') {
        expect(status).toBe(200);
        signIns++;
      }
      if (kind === 'add-passkey') {
        expect(status).toBe(201);
        added++;
      }
      if (kind === 'revoke-others' || kind === 'rotate-secret') expect(status).toBe(200);
      // Revoked concurrently by revoke-others: 404 (already gone for this user) or 204.
      if (kind === 'revoke-one') expect([204, 404]).toContain(status);
      // The other session's token request races revoke-others too: 200, or 401 once it is revoked.
      if (kind === 'rotate-other-secret') expect([200, 401]).toContain(status);
    }
    // Conflicts did happen and were absorbed by re-running the transaction or statement.
    expect(stats.transactionRetries + stats.statementRetries).toBeGreaterThan(0);
    expect(stats.exhausted).toBe(0);

    // Nothing of a failed attempt leaked, nothing committed is missing: one audit row and one outbox
    // event per sign-in and per added passkey.
    const db = t.database.db;
    const count = async (table: 'audit_event' | 'event_outbox', type: string) =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('user_id', '=', user.id)
            .where('type', '=', type)
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count('audit_event', 'login_succeeded')).toBe(signIns);
    expect(await count('event_outbox', 'session.created')).toBe(signIns);
    expect(await count('audit_event', 'passkey_added')).toBe(added);
    expect(await count('event_outbox', 'passkey.added')).toBe(added);
    const sessions = Number(
      (
        await db
          .selectFrom('session')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('user_id', '=', user.id)
          .executeTakeFirstOrThrow()
      ).n,
    );
    // The sign-up's session plus one per sign-in.
    expect(sessions).toBe(signIns + 1);
    const passkeys = Number(
      (
        await db
          .selectFrom('passkey')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('user_id', '=', user.id)
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(passkeys).toBe(added + 1);
  }, 180_000);
});
