import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator } from '../helpers/authenticator.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  // A test-only fault, in this test's own database: inserting a session fails while the trigger is
  // enabled. Registration inserts the user and the passkey before the session, so a failure there
  // is a write that fails half-way.
  await sql`
    create function test_fail_session_insert() returns trigger language plpgsql as $$
    begin raise exception 'injected failure'; end $$;
    create trigger test_fail_session_insert before insert on session
      for each row execute function test_fail_session_insert();
    alter table session disable trigger test_fail_session_insert;
  `.execute(t.deps.db);
});
afterAll(async () => {
  await t?.close();
});

const injectFailure = (on: boolean) =>
  sql.raw(`alter table session ${on ? 'enable' : 'disable'} trigger test_fail_session_insert`).execute(t.deps.db);

const counts = async () => {
  const n = async (table: 'app_user' | 'passkey' | 'session' | 'audit_event') =>
    Number(
      (
        await t.deps.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    users: await n('app_user'),
    passkeys: await n('passkey'),
    sessions: await n('session'),
    audit: await n('audit_event'),
  };
};

describe('a write that fails half-way leaves nothing behind', () => {
  it('registration: no user, passkey, session or audit row when the session insert fails', async () => {
    const before = await counts();
    const authenticator = createSoftwareAuthenticator();
    await injectFailure(true);
    try {
      const options = await (await t.post('/auth/register/options', { username: 'half-way' })).json();
      const response = await t.post('/auth/register/verify', authenticator.createCredential(options));
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: { code: 'internal', message: expect.any(String) } });
      expect(response.headers.getSetCookie()).toEqual([]);
    } finally {
      await injectFailure(false);
    }
    expect(await counts()).toEqual(before);
    const user = await t.deps.db
      .selectFrom('app_user')
      .select('id')
      .where('username', '=', 'half-way')
      .executeTakeFirst();
    expect(user).toBeUndefined();

    // Nothing half-written blocks a clean retry: the username and a passkey can be registered.
    const { user: registered } = await t.signUp('half-way', authenticator);
    expect(registered.username).toBe('half-way');
  });

  it('sign-in: the passkey counter and last use are unchanged when the session insert fails', async () => {
    const { authenticator } = await t.signUp('half-way-login');
    const credentialId = Buffer.from(authenticator.credentials[0]!.rawId);
    const passkey = () =>
      t.deps.db
        .selectFrom('passkey')
        .select(['counter', 'last_used_at'])
        .where('credential_id', '=', credentialId)
        .executeTakeFirstOrThrow();
    const before = await passkey();
    const countsBefore = await counts();
    await injectFailure(true);
    try {
      const response = await t.signIn(authenticator);
      expect(response.status).toBe(500);
    } finally {
      await injectFailure(false);
    }
    const after = await passkey();
    expect(Number(after.counter)).toBe(Number(before.counter));
    expect(after.last_used_at).toEqual(before.last_used_at);
    expect(await counts()).toEqual(countsBefore);
    expect((await t.signIn(authenticator)).status).toBe(200);
  });
});
