import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';

let t: TestApp;
let alice: SoftwareAuthenticator;
let aliceCookie: string;
beforeAll(async () => {
  t = await createTestApp();
  ({ authenticator: alice, cookie: aliceCookie } = await t.signUp('alice'));
});
afterAll(async () => {
  await t?.close();
});

async function loginOptions(body: unknown = {}) {
  const response = await t.post('/auth/login/options', body);
  expect(response.status).toBe(200);
  return response.json();
}

async function error(response: Response) {
  return { status: response.status, code: (await response.json()).error.code };
}

describe('usernameless sign-in', () => {
  it('signs in with a discoverable passkey and issues a new token', async () => {
    const response = await t.signIn(alice);
    expect(response.status).toBe(200);
    expect((await response.json()).user.username).toBe('alice');
    const cookie = sessionCookieOf(response);
    expect(cookie).not.toBeNull();
    expect(cookie).not.toBe(aliceCookie);
    const session = await t.get('/auth/session', cookie);
    expect((await session.json()).user.username).toBe('alice');
  });

  it('offers the same options shape whether or not a given username exists', async () => {
    const plain = await loginOptions({});
    const existing = await loginOptions({ username: 'alice' });
    const missing = await loginOptions({ username: 'nobody-here' });
    for (const options of [plain, existing, missing]) {
      expect(options.allowCredentials ?? []).toEqual([]);
      expect(options.userVerification).toBe('required');
      expect(options.rpId).toBe('localhost');
    }
    expect(Object.keys(existing).sort()).toEqual(Object.keys(missing).sort());
  });

  it('accepts an empty body for login options', async () => {
    const response = await t.request('POST', '/auth/login/options');
    expect(response.status).toBe(200);
  });

  it('refuses a replayed assertion', async () => {
    const options = await loginOptions();
    const assertion = alice.getAssertion(options);
    expect((await t.post('/auth/login/verify', assertion)).status).toBe(200);
    expect(await error(await t.post('/auth/login/verify', assertion))).toEqual({
      status: 400,
      code: 'invalid_challenge',
    });
  });

  it('refuses an expired challenge', async () => {
    const options = await loginOptions();
    t.clock.advance(301);
    expect(await error(await t.post('/auth/login/verify', alice.getAssertion(options)))).toEqual({
      status: 400,
      code: 'invalid_challenge',
    });
  });

  it('refuses a registration challenge used to sign in', async () => {
    const registration = await (await t.post('/auth/register/options', { username: 'someone-new' })).json();
    const options = await loginOptions();
    const assertion = alice.getAssertion({ ...options, challenge: registration.challenge });
    expect(await error(await t.post('/auth/login/verify', assertion))).toEqual({
      status: 400,
      code: 'invalid_challenge',
    });
  });

  it.each([
    ['a wrong origin', { origin: 'https://evil.example' }],
    ['the rpIdHash of another domain', { rpId: 'evil.example' }],
    ['user presence unset', { userPresent: false }],
    ['user verification unset', { userVerified: false }],
    ['a corrupted signature', { corruptSignature: true }],
    ['a registration clientData type', { type: 'webauthn.create' }],
    ['a cross-origin iframe', { crossOrigin: true }],
    ['crossOrigin as the string "true"', { crossOrigin: 'true' as unknown as boolean }],
    ['crossOrigin as 1', { crossOrigin: 1 as unknown as boolean }],
    ['a topOrigin', { topOrigin: 'https://evil.example' }],
  ])('refuses an assertion with %s (401 verification_failed) and burns the challenge', async (_, overrides) => {
    const options = await loginOptions();
    const response = await t.post('/auth/login/verify', alice.getAssertion(options, overrides));
    expect(response.status).toBe(401);
    const body = await response.json();
    expect(body.error.code).toBe('verification_failed');
    expect(body.error.message).not.toContain(options.challenge);
    expect(sessionCookieOf(response)).toBeNull();
    // A failed attempt burns the challenge: the honest response cannot use it afterwards.
    expect(await error(await t.post('/auth/login/verify', alice.getAssertion(options)))).toEqual({
      status: 400,
      code: 'invalid_challenge',
    });
  });

  it('answers unknown_credential for a passkey this server does not know', async () => {
    const stranger = createSoftwareAuthenticator({ origin });
    stranger.createCredential(await (await t.post('/auth/register/options', { username: 'never-finished' })).json());
    const response = await t.post('/auth/login/verify', stranger.getAssertion(await loginOptions()));
    expect(await error(response)).toEqual({ status: 401, code: 'unknown_credential' });
  });

  it('refuses a user handle that names another user', async () => {
    const { authenticator: bob } = await t.signUp('bob');
    const bobHandle = bob.credentials[0]!.userHandle;
    const response = await t.post(
      '/auth/login/verify',
      alice.getAssertion(await loginOptions(), { userHandle: bobHandle }),
    );
    expect(await error(response)).toEqual({ status: 401, code: 'verification_failed' });
    const missing = await t.post('/auth/login/verify', alice.getAssertion(await loginOptions(), { userHandle: null }));
    expect(await error(missing)).toEqual({ status: 401, code: 'verification_failed' });
  });

  it('refuses and records a signature counter that went backwards', async () => {
    const { authenticator: carol } = await t.signUp('carol');
    expect((await t.signIn(carol)).status).toBe(200);
    expect((await t.signIn(carol)).status).toBe(200);
    const credential = carol.credentials[0]!;
    const stored = await t.database.db
      .selectFrom('passkey')
      .select(['counter', 'counter_regressed_at'])
      .where(
        'user_id',
        '=',
        (
          await t.database.db
            .selectFrom('app_user')
            .select('id')
            .where('username', '=', 'carol')
            .executeTakeFirstOrThrow()
        ).id,
      )
      .executeTakeFirstOrThrow();
    expect(Number(stored.counter)).toBe(credential.signCount);
    expect(stored.counter_regressed_at).toBeNull();

    const response = await t.signIn(carol, { signCount: 1 });
    expect(await error(response)).toEqual({ status: 401, code: 'verification_failed' });
    const after = await t.database.db
      .selectFrom('passkey')
      .select(['counter', 'counter_regressed_at'])
      .where('credential_id', '=', Buffer.from(credential.rawId))
      .executeTakeFirstOrThrow();
    expect(after.counter_regressed_at).not.toBeNull();
    expect(Number(after.counter)).toBe(credential.signCount);
  });

  it('lets only one of two concurrent assertions with the same counter through, and records the other as a regression', async () => {
    const { authenticator: erin, user } = await t.signUp('erin-counter');
    for (let trial = 1; trial <= 5; trial++) {
      const [first, second] = [await loginOptions(), await loginOptions()];
      const signCount = trial * 10;
      const responses = await Promise.all([
        t.post('/auth/login/verify', erin.getAssertion(first, { signCount })),
        t.post('/auth/login/verify', erin.getAssertion(second, { signCount })),
      ]);
      const outcomes = await Promise.all(responses.map(async (r) => (r.status === 200 ? 200 : error(r))));
      expect(
        outcomes.filter((o) => o === 200),
        `trial ${trial}`,
      ).toHaveLength(1);
      expect(outcomes.find((o) => o !== 200)).toEqual({ status: 401, code: 'verification_failed' });
      const row = await t.database.db
        .selectFrom('passkey')
        .select(['counter', 'counter_regressed_at'])
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(Number(row.counter)).toBe(signCount);
      expect(row.counter_regressed_at).not.toBeNull();
    }
    const events = await t.database.db
      .selectFrom('audit_event')
      .select('type')
      .where('user_id', '=', user.id)
      .where('type', '=', 'counter_regression')
      .execute();
    expect(events).toHaveLength(5);
  });

  it('keeps accepting an authenticator that always sends 0, also concurrently', async () => {
    const zero = createSoftwareAuthenticator({ origin });
    const options = await (await t.post('/auth/register/options', { username: 'zero-counter' })).json();
    expect((await t.post('/auth/register/verify', zero.createCredential(options, { signCount: 0 }))).status).toBe(201);
    const [a, b, c] = [await loginOptions(), await loginOptions(), await loginOptions()];
    const responses = await Promise.all(
      [a, b, c].map((o) => t.post('/auth/login/verify', zero.getAssertion(o, { signCount: 0 }))),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    const row = await t.database.db
      .selectFrom('passkey')
      .select(['counter', 'counter_regressed_at'])
      .where('credential_id', '=', Buffer.from(zero.credentials[0]!.rawId))
      .executeTakeFirstOrThrow();
    expect(Number(row.counter)).toBe(0);
    expect(row.counter_regressed_at).toBeNull();
  });

  it('turns 20 concurrent submissions of one assertion into exactly one session', async () => {
    const { authenticator: dave, user } = await t.signUp('dave');
    const sessionsBefore = (
      await t.database.db.selectFrom('session').select('id').where('user_id', '=', user.id).execute()
    ).length;
    const assertion = dave.getAssertion(await loginOptions());
    const responses = await Promise.all(Array.from({ length: 20 }, () => t.post('/auth/login/verify', assertion)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(19);
    const sessionsAfter = (
      await t.database.db.selectFrom('session').select('id').where('user_id', '=', user.id).execute()
    ).length;
    expect(sessionsAfter - sessionsBefore).toBe(1);
  });
});
