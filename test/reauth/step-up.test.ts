import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import {
  addPasskey,
  auditRows,
  authenticatorWith,
  expectError,
  sessionIdOf,
  snapshot,
  stepUp,
} from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const verifiedAt = async (cookie: string) =>
  (
    await t.database.db
      .selectFrom('session')
      .select('verified_at')
      .where('id', '=', sessionIdOf(cookie))
      .executeTakeFirstOrThrow()
  ).verified_at.getTime();

describe('step-up', () => {
  it('offers the user’s own passkeys with user verification required', async () => {
    const { cookie, authenticator } = await t.signUp('stepper-a');
    await t.signUp('stepper-b');
    const response = await t.post('/auth/reauth/options', {}, cookie);
    expect(response.status).toBe(200);
    const options = await response.json();
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials.map((c: any) => c.id)).toEqual([authenticator.credentials[0]!.id]);
    expect(options.rpId).toBe('localhost');
  });

  it('marks the current session verified: 200 {verifiedAt}, no new session, no cookie', async () => {
    const { cookie, user, authenticator } = await t.signUp('stepper-c');
    t.clock.advance(600);
    const sessionsBefore = await t.database.db
      .selectFrom('session')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    const response = await stepUp(t, cookie, authenticator);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toEqual({ verifiedAt: t.clock.now().toISOString() });
    expect(sessionCookieOf(response)).toBeNull();
    expect(await verifiedAt(cookie)).toBe(t.clock.now().getTime());
    expect(await t.database.db.selectFrom('session').select('id').where('user_id', '=', user.id).execute()).toEqual(
      sessionsBefore,
    );
    const [event] = await auditRows(t, user.id, 'reauthenticated');
    expect(event).toMatchObject({ session_id: sessionIdOf(cookie), passkey_id: authenticator.credentials[0]!.id });
    // The fresh verification opens step-up actions again.
    expect((await t.post('/auth/sessions/revoke-others', {}, cookie)).status).toBe(200);
  });

  it('a stale session is refused step-up actions until it steps up again', async () => {
    const { cookie, authenticator } = await t.signUp('stepper-d');
    t.clock.advance(300);
    await expectError(t.post('/auth/sessions/revoke-others', {}, cookie), 403, 'reauthentication_required');
    expect((await stepUp(t, cookie, authenticator)).status).toBe(200);
    t.clock.advance(299);
    expect((await t.post('/auth/sessions/revoke-others', {}, cookie)).status).toBe(200);
  });

  it('answers 401 for another user’s passkey and changes nothing', async () => {
    const alice = await t.signUp('stepper-alice');
    const bob = await t.signUp('stepper-bob');
    t.clock.advance(600);
    const options = await (await t.post('/auth/reauth/options', {}, alice.cookie)).json();
    const before = await snapshot(t);
    const assertion = bob.authenticator.getAssertion(options, { credentialId: bob.authenticator.credentials[0]!.id });
    await expectError(t.post('/auth/reauth/verify', assertion, alice.cookie), 401, 'verification_failed');
    const after = await snapshot(t);
    expect({ ...after, audit: undefined }).toEqual({ ...before, audit: undefined });
    await expectError(t.post('/auth/sessions/revoke-others', {}, alice.cookie), 403, 'reauthentication_required');
    // The failure is on Alice's record, without Bob's credential.
    const [failure] = await auditRows(t, alice.user.id, 'reauthentication_failed');
    expect(failure).toMatchObject({ reason: 'verification_failed', passkey_id: null });
  });

  it('refuses an assertion without user verification', async () => {
    const { cookie, authenticator } = await t.signUp('stepper-e');
    t.clock.advance(600);
    const before = await verifiedAt(cookie);
    await expectError(stepUp(t, cookie, authenticator, { userVerified: false }), 401, 'verification_failed');
    expect(await verifiedAt(cookie)).toBe(before);
  });

  it('refuses a challenge another session asked for, and a login challenge', async () => {
    const { cookie, authenticator } = await t.signUp('stepper-f');
    const otherLogin = await t.signIn(authenticator);
    const otherCookie = sessionCookieOf(otherLogin)!;
    const options = await (await t.post('/auth/reauth/options', {}, otherCookie)).json();
    await expectError(
      t.post('/auth/reauth/verify', authenticator.getAssertion(options), cookie),
      400,
      'invalid_challenge',
    );
    const login = await (await t.post('/auth/login/options', {})).json();
    await expectError(
      t.post('/auth/reauth/verify', authenticator.getAssertion(login), cookie),
      400,
      'invalid_challenge',
    );
  });

  it('answers a step-up with one’s own passkey against another user’s challenge 400 invalid_challenge, as documented', async () => {
    const alice = await t.signUp('stepper-g-alice');
    const mallory = await t.signUp('stepper-g-mallory');
    t.clock.advance(600);
    const aliceOptions = await (await t.post('/auth/reauth/options', {}, alice.cookie)).json();
    const before = await verifiedAt(mallory.cookie);
    // Mallory signs Alice's challenge with her own passkey, inside her own session.
    const assertion = mallory.authenticator.getAssertion(aliceOptions, {
      credentialId: mallory.authenticator.credentials[0]!.id,
    });
    await expectError(t.post('/auth/reauth/verify', assertion, mallory.cookie), 400, 'invalid_challenge');
    expect(await verifiedAt(mallory.cookie)).toBe(before);
    await expectError(t.post('/auth/sessions/revoke-others', {}, mallory.cookie), 403, 'reauthentication_required');
  });

  it('needs a session', async () => {
    await expectError(t.post('/auth/reauth/options', {}), 401, 'unauthenticated');
    await expectError(t.post('/auth/reauth/verify', {}), 401, 'unauthenticated');
  });

  it('rejects a malformed response with 400', async () => {
    const { cookie } = await t.signUp('stepper-g');
    await expectError(t.post('/auth/reauth/verify', { id: 'x' }, cookie), 400, 'invalid_request');
  });

  it('works with a second passkey of the user', async () => {
    const { cookie, authenticator } = await t.signUp('stepper-h');
    const phone = authenticatorWith();
    expect((await addPasskey(t, cookie, phone)).status).toBe(201);
    t.clock.advance(600);
    const options = await (await t.post('/auth/reauth/options', {}, cookie)).json();
    expect(options.allowCredentials).toHaveLength(2);
    expect((await t.post('/auth/reauth/verify', phone.getAssertion(options), cookie)).status).toBe(200);
    expect(authenticator.credentials).toHaveLength(1);
  });
});

describe('step-up under USER_VERIFICATION=preferred', () => {
  let preferred: TestApp;
  beforeAll(async () => {
    preferred = await createTestApp({ USER_VERIFICATION: 'preferred' });
  });
  afterAll(async () => {
    await preferred?.close();
  });

  it('still refuses a step-up assertion without user verification: the step-up always requires it', async () => {
    const { cookie, authenticator } = await preferred.signUp('preferred-a');
    preferred.clock.advance(600);
    const sessionVerifiedAt = async () =>
      (
        await preferred.database.db
          .selectFrom('session')
          .select('verified_at')
          .where('id', '=', sessionIdOf(cookie))
          .executeTakeFirstOrThrow()
      ).verified_at.getTime();
    const before = await sessionVerifiedAt();
    await expectError(stepUp(preferred, cookie, authenticator, { userVerified: false }), 401, 'verification_failed');
    expect(await sessionVerifiedAt()).toBe(before);
    // The same passkey without user verification still signs in under this policy: only the step-up insists.
    const login = await preferred.signIn(authenticator, { userVerified: false });
    expect(login.status).toBe(200);
  });
});
