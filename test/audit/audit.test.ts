import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteUser, disableUser, enableUser } from '../../server/users/service.js';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import {
  addPasskey,
  auditRows,
  auditTypes,
  authenticatorWith,
  expectError,
  sessionIdOf,
  signInCookie,
  stepUp,
} from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

// Events of one instant have no order among them; tests move the clock between actions.
const tick = () => t.clock.advance(1);

describe('audit trail', () => {
  it('records each action of a user’s life, in order', async () => {
    const { cookie, user, authenticator } = await t.signUp('chronicle');
    tick();
    const second = await signInCookie(t, authenticator);
    tick();
    const phone = authenticatorWith();
    expect((await addPasskey(t, cookie, phone)).status).toBe(201);
    tick();
    const phoneId = phone.credentials[0]!.id;
    expect((await t.request('PATCH', `/auth/passkeys/${phoneId}`, { cookie, body: { name: 'Phone' } })).status).toBe(
      200,
    );
    tick();
    t.clock.advance(400);
    expect((await stepUp(t, cookie, authenticator)).status).toBe(200);
    tick();
    const codes = (await (await t.post('/auth/recovery-codes', {}, cookie)).json()).codes;
    tick();
    expect((await t.post('/auth/recover', { username: 'chronicle', code: codes[0] })).status).toBe(200);
    tick();
    expect((await t.request('DELETE', `/auth/sessions/${sessionIdOf(second)}`, { cookie })).status).toBe(204);
    tick();
    expect((await t.request('DELETE', `/auth/passkeys/${phoneId}`, { cookie })).status).toBe(204);
    tick();
    expect((await t.request('PATCH', '/auth/user', { cookie, body: { displayName: 'Chron Icle' } })).status).toBe(200);
    tick();
    expect((await t.post('/auth/logout', undefined, cookie)).status).toBe(204);
    tick();
    await disableUser(t.deps, { userId: user.id, actor: 'admin' });
    tick();
    await expectError(t.signIn(authenticator), 403, 'account_disabled');
    tick();
    await enableUser(t.deps, { userId: user.id, actor: 'admin' });
    tick();

    expect(await auditTypes(t, user.id)).toEqual([
      'user_registered',
      'login_succeeded',
      'passkey_added',
      'passkey_renamed',
      'reauthenticated',
      'recovery_codes_created',
      'recovery_code_used',
      'session_revoked',
      'passkey_deleted',
      'display_name_changed',
      'logout',
      'user_disabled',
      'login_failed',
      'user_enabled',
    ]);
    const [registered] = await auditRows(t, user.id, 'user_registered');
    expect(registered).toMatchObject({
      actor: 'user',
      session_id: sessionIdOf(cookie),
      passkey_id: authenticator.credentials[0]!.id,
    });
    const [failed] = await auditRows(t, user.id, 'login_failed');
    expect(failed).toMatchObject({ reason: 'account_disabled', passkey_id: authenticator.credentials[0]!.id });
    const [disabled] = await auditRows(t, user.id, 'user_disabled');
    expect(disabled!.actor).toBe('admin');

    // Nothing secret in any of it: no token, no code, no challenge.
    const everything = JSON.stringify(await t.database.db.selectFrom('audit_event').selectAll().execute());
    expect(everything).not.toContain(cookie.split('.')[1]);
    expect(everything).not.toContain(second.split('.')[1]);
    for (const code of codes) expect(everything).not.toContain(code);
  });

  it('records a failed login with its reason and the user when known', async () => {
    const { user, authenticator } = await t.signUp('failing');
    await expectError(t.signIn(authenticator, { corruptSignature: true }), 401, 'verification_failed');
    const [failure] = await auditRows(t, user.id, 'login_failed');
    expect(failure).toMatchObject({ reason: 'verification_failed', passkey_id: authenticator.credentials[0]!.id });
    const stranger = authenticatorWith();
    stranger.createCredential(await (await t.post('/auth/register/options', { username: 'never-finished' })).json());
    await expectError(t.signIn(stranger), 401, 'unknown_credential');
    const unknown = await t.database.db
      .selectFrom('audit_event')
      .selectAll()
      .where('type', '=', 'login_failed')
      .where('reason', '=', 'unknown_credential')
      .execute();
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatchObject({ user_id: null, passkey_id: null });
  });

  it('records a signature counter regression as a high-risk event', async () => {
    const { user, authenticator } = await t.signUp('cloned');
    expect((await t.signIn(authenticator)).status).toBe(200);
    await expectError(t.signIn(authenticator, { signCount: 1 }), 401, 'verification_failed');
    const [event] = await auditRows(t, user.id, 'counter_regression');
    expect(event).toMatchObject({ actor: 'system', risk: 'high', passkey_id: authenticator.credentials[0]!.id });
  });

  it('writes no event for a change that was refused or rolled back', async () => {
    const { cookie, user, authenticator } = await t.signUp('refused');
    const other = await t.signUp('refused-other');
    const before = await auditTypes(t, user.id);
    await expectError(
      t.request('DELETE', `/auth/passkeys/${authenticator.credentials[0]!.id}`, { cookie }),
      409,
      'last_passkey',
    );
    await expectError(
      t.request('PATCH', `/auth/passkeys/${authenticator.credentials[0]!.id}`, { cookie, body: { name: '' } }),
      400,
      'invalid_request',
    );
    await expectError(t.request('DELETE', `/auth/sessions/${sessionIdOf(other.cookie)}`, { cookie }), 404, 'not_found');
    // A registration that fails inside its transaction (credential already registered) leaves no event.
    const options = await (await t.post('/auth/passkeys/options', {}, cookie)).json();
    const duplicate = authenticatorWith().createCredential(options, {
      credentialId: other.authenticator.credentials[0]!.id,
    });
    await expectError(t.post('/auth/passkeys/verify', duplicate, cookie), 409, 'credential_exists');
    t.clock.advance(301);
    await expectError(t.post('/auth/sessions/revoke-others', {}, cookie), 403, 'reauthentication_required');
    expect(await auditTypes(t, user.id)).toEqual(before);
    expect(await auditTypes(t, other.user.id)).toEqual(['user_registered']);
  });

  it('records disable (with the sessions it revoked), enable and delete by the admin', async () => {
    const { cookie, user } = await t.signUp('operated');
    tick();
    const result = await disableUser(t.deps, { userId: user.id, actor: 'admin' });
    expect(result).toEqual({ changed: true, revokedSessions: 1 });
    await expectError(t.get('/auth/session', cookie), 401, 'unauthenticated');
    tick();
    await enableUser(t.deps, { userId: user.id, actor: 'admin' });
    tick();
    expect(await deleteUser(t.deps, { userId: user.id, actor: 'admin' })).toBe(true);
    const types = await auditTypes(t, user.id);
    expect(types.slice(-3)).toEqual(['user_disabled', 'user_enabled', 'user_deleted']);
    expect(
      await t.database.db.selectFrom('recovery_code').selectAll().where('user_id', '=', user.id).execute(),
    ).toEqual([]);
  });
});

describe('GET /auth/activity', () => {
  it('returns the user’s own events, newest first, a page at a time', async () => {
    const { cookie, user, authenticator } = await t.signUp('paged');
    const stranger = await t.signUp('paged-stranger');
    for (let i = 0; i < 6; i++) {
      t.clock.advance(1);
      await signInCookie(t, authenticator);
    }
    // Two events in the same millisecond still page correctly (ties broken by id). The test clock
    // stands still between them; one after the other, since two assertions of one authenticator
    // sent at once may reach the counter check out of order, and the lower counter is refused.
    await signInCookie(t, authenticator);
    await signInCookie(t, authenticator);
    const all = await t.database.db.selectFrom('audit_event').select('id').where('user_id', '=', user.id).execute();
    expect(all).toHaveLength(9);

    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response: Response = await t.get(`/auth/activity?limit=4${cursor ? `&cursor=${cursor}` : ''}`, cookie);
      expect(response.status).toBe(200);
      const page: any = await response.json();
      expect(page.events.length).toBeLessThanOrEqual(4);
      seen.push(...page.events);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((e) => e.id).sort()).toEqual(all.map((e) => e.id).sort());
    const times = seen.map((e) => e.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(seen.at(-1).type).toBe('user_registered');
    expect(seen[0]).toMatchObject({
      type: 'login_succeeded',
      actor: 'user',
      passkeyId: authenticator.credentials[0]!.id,
    });
    expect(Object.keys(seen[0]).sort()).toEqual(
      [
        'actor',
        'createdAt',
        'details',
        'id',
        'ipAddress',
        'passkeyId',
        'reason',
        'risk',
        'sessionId',
        'type',
        'userAgent',
      ].sort(),
    );
    const strangerEvents = (await (await t.get('/auth/activity', stranger.cookie)).json()).events;
    expect(strangerEvents.map((e: any) => e.type)).toEqual(['user_registered']);
  });

  it('defaults to 20 events and refuses a bad limit or cursor with 400', async () => {
    const { cookie } = await t.signUp('paged-bad');
    const page = await (await t.get('/auth/activity', cookie)).json();
    expect(page).toEqual({ events: [expect.objectContaining({ type: 'user_registered' })], nextCursor: null });
    for (const query of [
      'limit=0',
      'limit=101',
      'limit=abc',
      'cursor=',
      'cursor=!!',
      `cursor=${Buffer.from('[1,2]').toString('base64url')}`,
      `cursor=${'a'.repeat(500)}`,
    ]) {
      await expectError(t.get(`/auth/activity?${query}`, cookie), 400, 'invalid_request');
    }
  });

  it('needs a session', async () => {
    await expectError(t.get('/auth/activity'), 401, 'unauthenticated');
  });
});

describe('PATCH /auth/user', () => {
  it('changes the display name and returns what signalCurrentUserDetails needs', async () => {
    const { cookie, authenticator } = await t.signUp('renamed-user');
    const response = await t.request('PATCH', '/auth/user', { cookie, body: { displayName: 'Renée' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      user: { id: expect.any(String), username: 'renamed-user', displayName: 'Renée' },
      signal: {
        rpId: 'localhost',
        userId: authenticator.credentials[0]!.userHandle,
        name: 'renamed-user',
        displayName: 'Renée',
      },
    });
    expect((await (await t.get('/auth/session', cookie)).json()).user.displayName).toBe('Renée');
    await expectError(
      t.request('PATCH', '/auth/user', { cookie, body: { displayName: 'x'.repeat(65) } }),
      400,
      'invalid_request',
    );
    await expectError(t.request('PATCH', '/auth/user', { cookie, body: {} }), 400, 'invalid_request');
    const login = await t.signIn(authenticator);
    expect(sessionCookieOf(login)).toBeTruthy();
  });
});
