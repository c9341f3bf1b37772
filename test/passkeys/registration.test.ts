import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { base64urlDecode, createSoftwareAuthenticator } from '../helpers/authenticator.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function registrationOptions(username: string, displayName?: string) {
  const response = await t.post('/auth/register/options', { username, ...(displayName ? { displayName } : {}) });
  expect(response.status).toBe(200);
  return response.json();
}

async function counts() {
  const count = async (table: 'app_user' | 'passkey' | 'session') =>
    Number(
      (
        await t.database.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { users: await count('app_user'), passkeys: await count('passkey'), sessions: await count('session') };
}

describe('registration', () => {
  it('registers a user with a passkey and signs them in', async () => {
    const options = await registrationOptions('Alice', 'Alice Liddell');
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(options.attestation).toBe('none');
    expect(options.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toEqual([-8, -7, -257]);
    expect(options.rp).toEqual({ name: 'Passkey Auth', id: 'localhost' });
    expect(options.user.name).toBe('alice');
    expect(options.user.displayName).toBe('Alice Liddell');

    const authenticator = createSoftwareAuthenticator({ origin });
    const response = await t.post('/auth/register/verify', authenticator.createCredential(options));
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({
      user: { id: expect.any(String), username: 'alice', displayName: 'Alice Liddell' },
    });
    const cookie = sessionCookieOf(response);
    expect(cookie).not.toBeNull();

    const session = await t.get('/auth/session', cookie);
    expect(session.status).toBe(200);
    expect((await session.json()).user.username).toBe('alice');
  });

  it('gives every user a fresh random 32-byte WebAuthn user id, never derived from the username', async () => {
    const a = await registrationOptions('random-id-user');
    const b = await registrationOptions('random-id-user');
    expect(base64urlDecode(a.user.id)).toHaveLength(32);
    expect(a.user.id).not.toBe(b.user.id);
    expect(Buffer.from(base64urlDecode(a.user.id)).toString('utf8')).not.toContain('random-id-user');
  });

  it('normalises usernames so that Ann and ann are the same user', async () => {
    await t.signUp('Ann');
    const response = await t.post('/auth/register/options', { username: 'ANN' });
    expect(response.status).toBe(409);
    expect((await response.json()).error.code).toBe('username_taken');
    // NFKC: the fullwidth letters fold to ASCII.
    const fullwidth = await t.post('/auth/register/options', { username: 'ＡＮＮ' });
    expect(fullwidth.status).toBe(409);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'x'.repeat(65)],
    ['a control character', 'bad\u0007name'],
    ['a number', 12345],
    ['missing', undefined],
  ])('refuses a username that is %s with 400 invalid_request', async (_, username) => {
    const response = await t.post('/auth/register/options', { username });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe('invalid_request');
  });

  it('refuses a display name over 64 characters', async () => {
    const response = await t.post('/auth/register/options', { username: 'longname', displayName: 'x'.repeat(65) });
    expect(response.status).toBe(400);
  });

  it('answers 409 username_taken at verify when another registration won the race', async () => {
    const first = await registrationOptions('racer');
    const second = await registrationOptions('racer');
    const a = createSoftwareAuthenticator({ origin });
    const b = createSoftwareAuthenticator({ origin });
    expect((await t.post('/auth/register/verify', a.createCredential(first))).status).toBe(201);
    const before = await counts();
    const lost = await t.post('/auth/register/verify', b.createCredential(second));
    expect(lost.status).toBe(409);
    expect((await lost.json()).error.code).toBe('username_taken');
    expect(sessionCookieOf(lost)).toBeNull();
    expect(await counts()).toEqual(before);
  });

  it('refuses a credential ID that is already registered and leaves its first owner untouched', async () => {
    const { authenticator: first, cookie } = await t.signUp('first-owner');
    const credentialId = first.credentials[0]!.id;
    const before = await counts();

    const thief = createSoftwareAuthenticator({ origin });
    const options = await registrationOptions('second-owner');
    const response = await t.post('/auth/register/verify', thief.createCredential(options, { credentialId }));
    expect(response.status).toBe(409);
    expect((await response.json()).error.code).toBe('credential_exists');
    expect(await counts()).toEqual(before);
    expect(
      await t.database.db.selectFrom('app_user').where('username', '=', 'second-owner').selectAll().executeTakeFirst(),
    ).toBeUndefined();

    expect((await t.get('/auth/session', cookie)).status).toBe(200);
    expect((await t.signIn(first)).status).toBe(200);
  });

  it('refuses a registration challenge used twice', async () => {
    const options = await registrationOptions('twice');
    const response = createSoftwareAuthenticator({ origin }).createCredential(options);
    expect((await t.post('/auth/register/verify', response)).status).toBe(201);
    const again = await t.post('/auth/register/verify', response);
    expect(again.status).toBe(400);
    expect((await again.json()).error.code).toBe('invalid_challenge');
  });

  it('refuses an expired challenge', async () => {
    const options = await registrationOptions('slowpoke');
    t.clock.advance(301);
    const response = await t.post(
      '/auth/register/verify',
      createSoftwareAuthenticator({ origin }).createCredential(options),
    );
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe('invalid_challenge');
  });

  it('refuses a login challenge used to finish a registration', async () => {
    const loginOptions = await (await t.post('/auth/login/options', {})).json();
    const registration = await registrationOptions('wrong-ceremony');
    const response = createSoftwareAuthenticator({ origin }).createCredential({
      ...registration,
      challenge: loginOptions.challenge,
    });
    const answer = await t.post('/auth/register/verify', response);
    expect(answer.status).toBe(400);
    expect((await answer.json()).error.code).toBe('invalid_challenge');
  });

  it.each([
    ['a wrong origin', { origin: 'https://evil.example' }],
    ['the rpIdHash of another domain', { rpId: 'evil.example' }],
    ['user presence unset', { userPresent: false }],
    ['user verification unset', { userVerified: false }],
    ['a clientData type of a login', { type: 'webauthn.get' }],
    ['a cross-origin iframe', { crossOrigin: true }],
    ['crossOrigin as the string "true"', { crossOrigin: 'true' as unknown as boolean }],
    ['crossOrigin as 1', { crossOrigin: 1 as unknown as boolean }],
    ['a topOrigin (same-origin iframe claim)', { topOrigin: 'https://evil.example' }],
    ['a topOrigin equal to the origin', { topOrigin: origin }],
  ])('refuses a registration response with %s, writing nothing', async (_, overrides) => {
    const before = await counts();
    const options = await registrationOptions(`bad-${Math.random().toString(36).slice(2, 10)}`);
    const response = await t.post(
      '/auth/register/verify',
      createSoftwareAuthenticator({ origin }).createCredential(options, overrides),
    );
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error.code).toBe('verification_failed');
    // Library text names the expected challenge and origin; none of it reaches the client.
    expect(body.error.message).not.toContain(options.challenge);
    expect(body.error.message).not.toMatch(/expected|localhost|evil/i);
    expect(await counts()).toEqual(before);
  });
});
