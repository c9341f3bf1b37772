import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditEventTypes } from '../../server/audit/events.js';
import { recordAuditEvent } from '../../server/audit/repository.js';
import { outboxEntryOf } from '../../server/events/outbox.js';
import { auditOnlyTypes, securityEvents } from '../../server/events/types.js';
import { disableUser } from '../../server/users/service.js';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator } from '../helpers/authenticator.js';

const secret = 'outbox-test-secret-0123456789abcdefghij';

let t: TestApp;
beforeAll(async () => {
  // Port 9 (discard) on loopback: nothing is dispatched in this file; events only accumulate.
  t = await createTestApp({ WEBHOOK_URL: 'http://127.0.0.1:9/hook', WEBHOOK_SECRET: secret });
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  await t.deps.db.deleteFrom('event_outbox').execute();
});

async function outboxOf(userId: string) {
  return t.deps.db
    .selectFrom('event_outbox')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('occurred_at')
    .orderBy('id')
    .execute();
}

function sessionIdOf(cookie: string): string {
  return cookie.split('=')[1]!.split('.')[0]!;
}

describe('the event outbox', () => {
  it('writes an outbox row only when the change commits: a rolled-back transaction leaves none', async () => {
    const userId = randomUUID();
    await expect(
      t.deps.db.transaction().execute(async (trx) => {
        await recordAuditEvent(trx, { type: 'passkey_added', userId, passkeyId: 'AAAA' }, t.clock.now());
        throw new Error('the change failed after its event was written');
      }),
    ).rejects.toThrow('the change failed');
    expect(await outboxOf(userId)).toEqual([]);
    expect(await t.deps.db.selectFrom('audit_event').select('id').where('user_id', '=', userId).execute()).toEqual([]);

    await t.deps.db.transaction().execute(async (trx) => {
      await recordAuditEvent(trx, { type: 'passkey_added', userId, passkeyId: 'AAAA' }, t.clock.now());
    });
    const rows = await outboxOf(userId);
    expect(rows.map((r) => r.type)).toEqual(['passkey.added']);
  });

  it('writes the audit row and the outbox row together even when the caller passes no transaction', async () => {
    const userId = randomUUID();
    const audit = await recordAuditEvent(t.deps.db, { type: 'user_disabled', userId, actor: 'admin' }, t.clock.now());
    const [row] = await outboxOf(userId);
    expect(row).toMatchObject({
      id: audit.id,
      type: 'account.disabled',
      attempts: 0,
      delivered_at: null,
      failed_at: null,
      locked_until: null,
    });
    expect(row!.next_attempt_at.getTime()).toBe(t.clock.now().getTime());
  });

  it('reports sign-up, sign-in, a new passkey, a passkey removed, a session revoked elsewhere and a disabled account, with their payloads', async () => {
    const { cookie, user, authenticator } = await t.signUp('olivia');
    t.clock.advance(1);
    const second = await t.signIn(authenticator);
    expect(second.status).toBe(200);
    const laptop = sessionCookieOf(second)!;

    t.clock.advance(1);
    const other = createSoftwareAuthenticator({ origin: 'http://localhost:3000' });
    const options = await t.post('/auth/passkeys/options', {}, cookie);
    expect(options.status).toBe(200);
    const added = await t.post('/auth/passkeys/verify', other.createCredential(await options.json()), cookie);
    expect(added.status).toBe(201);
    const { passkey } = (await added.json()) as { passkey: { id: string } };
    expect(
      (await t.request('PATCH', `/auth/passkeys/${passkey.id}`, { cookie, body: { name: 'Backup key' } })).status,
    ).toBe(200);
    t.clock.advance(1);
    expect((await t.request('DELETE', `/auth/passkeys/${passkey.id}`, { cookie })).status).toBe(204);
    t.clock.advance(1);

    expect((await t.request('DELETE', `/auth/sessions/${sessionIdOf(laptop)}`, { cookie })).status).toBe(204);
    t.clock.advance(1);
    expect((await disableUser(t.deps, { userId: user.id, actor: 'admin' }))?.changed).toBe(true);

    const rows = await outboxOf(user.id);
    expect(rows.map((r) => r.type)).toEqual([
      'account.created',
      'session.created',
      'passkey.added',
      'passkey.removed',
      'session.revoked',
      'account.disabled',
    ]);

    const bodies = rows.map((r) => JSON.parse(r.body));
    for (const [i, body] of bodies.entries()) {
      expect(Object.keys(body)).toEqual(['id', 'type', 'occurredAt', 'userId', 'data']);
      expect(body).toMatchObject({
        id: rows[i]!.id,
        type: rows[i]!.type,
        userId: user.id,
        occurredAt: rows[i]!.occurred_at.toISOString(),
      });
      expect(Object.keys(body.data).sort()).toEqual([
        'actor',
        'details',
        'ipAddress',
        'passkeyId',
        'reason',
        'risk',
        'sessionId',
        'userAgent',
      ]);
      // The event id is the audit event's id, so a receiver can match it with the user's activity.
      const audit = await t.deps.db
        .selectFrom('audit_event')
        .select('type')
        .where('id', '=', body.id)
        .executeTakeFirst();
      expect(audit).toBeDefined();
    }
    expect(bodies[1].data).toMatchObject({
      actor: 'user',
      sessionId: sessionIdOf(laptop),
      passkeyId: authenticator.credentials[0]!.id,
    });
    expect(bodies[2].data).toMatchObject({ passkeyId: passkey.id, details: { aaguid: expect.any(String) } });
    expect(bodies[4].data).toMatchObject({
      sessionId: sessionIdOf(laptop),
      details: { cause: 'revoked_by_user', fromSession: sessionIdOf(cookie) },
    });
    expect(bodies[5].data).toMatchObject({ actor: 'admin' });
    // Never a secret: no session token, cookie or key material in any body.
    for (const row of rows) {
      expect(row.body).not.toContain(cookie.split('=')[1]!);
      expect(row.body).not.toContain(laptop.split('=')[1]!);
    }
  });

  it('keeps renames, logouts and closing the current session out of the outbox', async () => {
    const { user, authenticator } = await t.signUp('quentin');
    const response = await t.signIn(authenticator);
    const cookie = sessionCookieOf(response)!;
    await t.deps.db.deleteFrom('event_outbox').execute();

    expect((await t.request('DELETE', `/auth/sessions/${sessionIdOf(cookie)}`, { cookie })).status).toBe(204);
    const again = sessionCookieOf(await t.signIn(authenticator))!;
    expect((await t.post('/auth/logout', {}, again)).status).toBe(204);
    const failed = await t.signIn(authenticator, { corruptSignature: true });
    expect(failed.status).toBe(401);

    // Only the second sign-in is reported; its revocation by the user themselves and the logout are not.
    expect((await outboxOf(user.id)).map((r) => r.type)).toEqual(['session.created']);
  });

  it('reports a detected token reuse and a regressed counter as high risk', async () => {
    const userId = randomUUID();
    const now = t.clock.now();
    await recordAuditEvent(
      t.deps.db,
      {
        type: 'token_reuse_detected',
        userId,
        sessionId: 's1',
        actor: 'system',
        reason: 'retired_session_secret',
        risk: 'high',
      },
      now,
    );
    await recordAuditEvent(
      t.deps.db,
      {
        type: 'counter_regression',
        userId,
        passkeyId: 'AAAA',
        actor: 'system',
        risk: 'high',
        details: { storedCounter: 5, newCounter: 2 },
      },
      now,
    );
    const rows = await outboxOf(userId);
    expect(rows.map((r) => r.type).sort()).toEqual(['passkey.counter_regressed', 'session.token_reused']);
    for (const row of rows) expect(JSON.parse(row.body).data.risk).toBe('high');
  });

  it('does not report an audit event that is not security-relevant', async () => {
    const audit = await recordAuditEvent(t.deps.db, { type: 'passkey_renamed', userId: randomUUID() }, t.clock.now());
    expect(outboxEntryOf(audit)).toBeNull();
    expect(await t.deps.db.selectFrom('event_outbox').select('id').execute()).toEqual([]);
  });

  it('classifies every audit type the server records as either reported or audit-only', () => {
    // The compiler enforces this (server/events/types.ts): `recordAuditEvent` only takes a type of
    // `auditEventTypes`, and each must be in exactly one of the two tables. This is its runtime mirror.
    expect(auditEventTypes.length).toBeGreaterThan(10);
    const reported = new Set<string>(Object.keys(securityEvents));
    const auditOnly = new Set<string>(auditOnlyTypes);
    const unclassified = auditEventTypes.filter((type) => reported.has(type) === auditOnly.has(type));
    expect(unclassified).toEqual([]);
  });
});
