import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError, runAdminCommand, type UserDetail, type UserSummary } from '../../server/admin/commands.js';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';

// The admin commands called directly with the app's dependencies, on a fresh database (PGlite, or
// PostgreSQL with DATABASE_URL). The CLI and the admin channel run exactly these functions.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const run = (command: string, args: Record<string, unknown> = {}) => runAdminCommand(t.deps, command, args);

async function adminError(promise: Promise<unknown>): Promise<AdminError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AdminError);
  return error as AdminError;
}

async function eventsOf(userId: string) {
  return t.database.db
    .selectFrom('audit_event')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

describe('admin commands', () => {
  it('lists users with their passkey count and live session count', async () => {
    const { user, authenticator } = await t.signUp('list-me');
    expect(sessionCookieOf(await t.signIn(authenticator))).not.toBeNull();
    const { users } = (await run('users')) as { users: UserSummary[] };
    const row = users.find((u) => u.id === user.id);
    expect(row).toEqual({
      id: user.id,
      username: 'list-me',
      displayName: 'list-me',
      createdAt: expect.stringMatching(/Z$/),
      disabledAt: null,
      passkeys: 1,
      sessions: 2,
    });
  });

  it('does not count revoked or expired sessions as live', async () => {
    const { user, cookie } = await t.signUp('count-live');
    await t.post('/auth/logout', undefined, cookie);
    const { users } = (await run('users')) as { users: UserSummary[] };
    expect(users.find((u) => u.id === user.id)?.sessions).toBe(0);
  });

  it('shows a user by username (any case) or by id, with passkeys, live sessions and recent events', async () => {
    const { user, cookie } = await t.signUp('show-me');
    const sessionId = cookie.split('=')[1]!.split('.')[0];
    const byName = (await run('user', { user: 'Show-Me' })) as UserDetail;
    const byId = (await run('user', { user: user.id.toUpperCase() })) as UserDetail;
    expect(byId).toEqual(byName);
    expect(byName.user).toMatchObject({ id: user.id, username: 'show-me', passkeys: 1, sessions: 1 });
    expect(byName.passkeys).toHaveLength(1);
    expect(byName.passkeys[0]).toMatchObject({
      id: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      deviceType: expect.any(String),
    });
    expect(byName.sessions.map((s) => s.id)).toEqual([sessionId]);
    expect(JSON.stringify(byName)).not.toContain(cookie.split('.')[1]);
  });

  it('answers not_found for an unknown user, by name or by id', async () => {
    expect((await adminError(run('user', { user: 'nobody-here' }))).code).toBe('not_found');
    expect((await adminError(run('disable', { user: '00000000-0000-4000-8000-000000000000' }))).code).toBe('not_found');
    expect((await adminError(run('delete', { user: 'x\u0000y', yes: true }))).code).toBe('not_found');
  });

  it('refuses unknown commands and malformed arguments as usage errors', async () => {
    expect((await adminError(run('drop-everything'))).code).toBe('usage');
    expect((await adminError(runAdminCommand(t.deps, 'user', {}))).code).toBe('usage');
    expect((await adminError(runAdminCommand(t.deps, 'user', { user: 42 }))).code).toBe('usage');
    expect((await adminError(runAdminCommand(t.deps, 'users', { user: 'someone' }))).code).toBe('usage');
    expect((await adminError(runAdminCommand(t.deps, 'users', { sql: 'drop table app_user' }))).code).toBe('usage');
    expect((await adminError(runAdminCommand(t.deps, 'users', []))).code).toBe('usage');
  });

  it('disable revokes every session at once: the next request answers 401 and a new login 403 account_disabled', async () => {
    const { user, cookie, authenticator } = await t.signUp('to-disable');
    const second = sessionCookieOf(await t.signIn(authenticator));
    expect(await run('disable', { user: 'to-disable' })).toEqual({
      user: { id: user.id, username: 'to-disable' },
      changed: true,
      revokedSessions: 2,
    });

    expect((await t.get('/auth/session', cookie)).status).toBe(401);
    expect((await t.get('/auth/session', second)).status).toBe(401);
    const login = await t.signIn(authenticator);
    expect(login.status).toBe(403);
    expect((await login.json()).error.code).toBe('account_disabled');
    expect(sessionCookieOf(login)).toBeNull();

    const sessions = await t.database.db
      .selectFrom('session')
      .select(['revoked_at'])
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions.every((s) => s.revoked_at !== null)).toBe(true);
    const disabled = (await eventsOf(user.id)).filter((e) => e.type === 'user_disabled');
    expect(disabled).toHaveLength(1);
    expect(disabled[0]).toMatchObject({ actor: 'admin', details: { revokedSessions: 2 } });
  });

  it('disabling an already disabled user changes nothing and records nothing new', async () => {
    const { user } = await t.signUp('twice-disabled');
    await run('disable', { user: user.id });
    expect(await run('disable', { user: user.id })).toMatchObject({ changed: false, revokedSessions: 0 });
    expect((await eventsOf(user.id)).filter((e) => e.type === 'user_disabled')).toHaveLength(1);
  });

  it('enable lets the user sign in again while the old sessions stay revoked', async () => {
    const { user, cookie, authenticator } = await t.signUp('to-enable');
    await run('disable', { user: 'to-enable' });
    expect(await run('enable', { user: 'to-enable' })).toEqual({
      user: { id: user.id, username: 'to-enable' },
      changed: true,
    });
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
    const login = await t.signIn(authenticator);
    expect(login.status).toBe(200);
    expect((await t.get('/auth/session', sessionCookieOf(login))).status).toBe(200);
    expect(await run('enable', { user: 'to-enable' })).toMatchObject({ changed: false });
    const enabled = (await eventsOf(user.id)).filter((e) => e.type === 'user_enabled');
    expect(enabled).toHaveLength(1);
    expect(enabled[0]!.actor).toBe('admin');
  });

  it("revoke-sessions ends all of the user's sessions and no one else's", async () => {
    const { user, cookie, authenticator } = await t.signUp('revoke-all');
    const second = sessionCookieOf(await t.signIn(authenticator));
    const bystander = await t.signUp('bystander');
    expect(await run('revoke-sessions', { user: 'revoke-all' })).toEqual({
      user: { id: user.id, username: 'revoke-all' },
      revokedSessions: 2,
    });
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
    expect((await t.get('/auth/session', second)).status).toBe(401);
    expect((await t.get('/auth/session', bystander.cookie)).status).toBe(200);
    // Not disabled: the user can sign in again.
    expect((await t.signIn(authenticator)).status).toBe(200);
    const revoked = (await eventsOf(user.id)).filter((e) => e.type === 'session_revoked');
    expect(revoked).toHaveLength(2);
    expect(revoked.every((e) => e.actor === 'admin' && e.session_id !== null)).toBe(true);
  });

  it('delete needs an explicit yes, then removes the user, their passkeys and sessions, and keeps the event', async () => {
    const { user, cookie, authenticator } = await t.signUp('to-delete');
    expect((await adminError(run('delete', { user: 'to-delete' }))).code).toBe('usage');
    expect((await adminError(run('delete', { user: 'to-delete', yes: false }))).code).toBe('usage');
    expect((await t.get('/auth/session', cookie)).status).toBe(200);

    expect(await run('delete', { user: 'to-delete', yes: true })).toEqual({
      user: { id: user.id, username: 'to-delete' },
      deleted: true,
    });
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
    const login = await t.signIn(authenticator);
    expect(login.status).toBe(401);
    expect((await login.json()).error.code).toBe('unknown_credential');
    const { db } = t.database;
    expect(await db.selectFrom('passkey').select('user_id').where('user_id', '=', user.id).execute()).toEqual([]);
    expect(await db.selectFrom('session').select('user_id').where('user_id', '=', user.id).execute()).toEqual([]);
    expect((await eventsOf(user.id)).filter((e) => e.type === 'user_deleted')).toEqual([
      expect.objectContaining({ actor: 'admin' }),
    ]);
    expect((await adminError(run('user', { user: 'to-delete' }))).code).toBe('not_found');
  });

  it('keys:rotate publishes a new signing key in the JWKS at once, and a second rotation while one is pending creates nothing', async () => {
    type Rotation = { kid: string; created: boolean; activatesAt: string };
    await run('keys:rotate');
    // Now a key signs, so this rotation's key waits for the JWKS cache age before signing.
    const pending = (await run('keys:rotate')) as Rotation;
    expect(pending.created).toBe(true);
    expect(new Date(pending.activatesAt).getTime()).toBeGreaterThan(t.clock.now().getTime());
    const jwks = (await (await t.get('/.well-known/jwks.json')).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(pending.kid);
    expect(await run('keys:rotate')).toMatchObject({ kid: pending.kid, created: false });
  });
});
