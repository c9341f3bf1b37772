import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { createSession } from '../../server/sessions/service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { auditRows, sessionIdOf, signInCookie } from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ SESSION_LIMIT: '2' });
});
afterAll(async () => {
  await t?.close();
});

describe('SESSION_LIMIT', () => {
  it('is off by default', () => {
    expect(loadConfig({}).session.limit).toBe(0);
    expect(() => loadConfig({ SESSION_LIMIT: '-1' })).toThrow(/SESSION_LIMIT/);
  });

  it('revokes the least recently used session when a sign-in goes beyond the limit, and records it', async () => {
    const { cookie: first, user, authenticator } = await t.signUp('busy-bee');
    t.clock.advance(120);
    const second = await signInCookie(t, authenticator);
    // The first session is used again, so the second becomes the least recently used.
    t.clock.advance(120);
    expect((await t.get('/auth/session', first)).status).toBe(200);
    t.clock.advance(120);
    const third = await signInCookie(t, authenticator);

    expect((await t.get('/auth/session', second)).status).toBe(401);
    expect((await t.get('/auth/session', first)).status).toBe(200);
    expect((await t.get('/auth/session', third)).status).toBe(200);

    const [evicted, ...more] = await auditRows(t, user.id, 'session_evicted');
    expect(more).toEqual([]);
    expect(evicted).toMatchObject({ session_id: sessionIdOf(second), actor: 'system', reason: 'session_limit' });
    expect(evicted!.details).toMatchObject({ limit: 2, newSession: sessionIdOf(third) });
    const outbox = await t.database.db
      .selectFrom('event_outbox')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('type', '=', 'session.revoked')
      .execute();
    expect(outbox).toHaveLength(1);
  });

  it('revokes as many sessions as needed, and never counts dead ones', async () => {
    const { cookie: first, user, authenticator } = await t.signUp('many-tabs');
    const loggedOut = await signInCookie(t, authenticator);
    expect((await t.post('/auth/logout', {}, loggedOut)).status).toBe(204);
    // Only `first` is live besides the new one: the logged-out session does not count, nothing is evicted.
    t.clock.advance(120);
    const second = await signInCookie(t, authenticator);
    expect((await t.get('/auth/session', first)).status).toBe(200);
    expect(await auditRows(t, user.id, 'session_evicted')).toEqual([]);
    // Sessions made before the limit was lowered: the next sign-in brings the count back to the limit.
    const context = { passkeyId: null, userAgent: null, ipAddress: null };
    for (let i = 0; i < 3; i++)
      await createSession(
        t.database.db,
        t.config.session,
        { userId: user.id, context },
        new Date(t.clock.now().getTime() - 1000 * (i + 1)),
      );
    t.clock.advance(60);
    const newest = await signInCookie(t, authenticator);
    expect(await auditRows(t, user.id, 'session_evicted')).toHaveLength(4);
    const live = await t.database.db
      .selectFrom('session')
      .select('id')
      .where('user_id', '=', user.id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(live.map((row) => row.id).sort()).toEqual([sessionIdOf(second), sessionIdOf(newest)].sort());
  });
});
