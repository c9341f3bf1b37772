import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  aaguids,
  addPasskey,
  auditRows,
  authenticatorWith,
  expectError,
  sessionIdOf,
  signInCookie,
  snapshot,
} from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('GET /auth/passkeys', () => {
  it('lists the user’s passkeys with a name from the AAGUID and the Signal API details', async () => {
    const { cookie, user, authenticator } = await t.signUp('namer', authenticatorWith(aaguids.googlePasswordManager));
    await t.signUp('namer-neighbour');
    const response = await t.get('/auth/passkeys', cookie);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.passkeys).toEqual([
      {
        id: authenticator.credentials[0]!.id,
        name: 'Google Password Manager',
        customName: false,
        authenticatorName: 'Google Password Manager',
        createdAt: expect.stringMatching(/Z$/),
        lastUsedAt: null,
        backedUp: false,
        deviceType: 'singleDevice',
        transports: ['internal', 'hybrid'],
        aaguid: aaguids.googlePasswordManager,
      },
    ]);
    const row = await t.database.db
      .selectFrom('app_user')
      .select('webauthn_user_id')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(body.signal).toEqual({
      rpId: 'localhost',
      userId: Buffer.from(row.webauthn_user_id).toString('base64url'),
      allAcceptedCredentialIds: [authenticator.credentials[0]!.id],
      name: 'namer',
      displayName: 'namer',
    });
    expect(body.signal.userId).toBe(authenticator.credentials[0]!.userHandle);
  });

  it('calls a passkey with the all-zero AAGUID "Passkey", and shows when it was last used', async () => {
    const { cookie, authenticator } = await t.signUp('zero');
    t.clock.advance(10);
    await signInCookie(t, authenticator);
    const { passkeys } = await (await t.get('/auth/passkeys', cookie)).json();
    expect(passkeys[0]).toMatchObject({
      name: 'Passkey',
      authenticatorName: null,
      aaguid: '00000000-0000-0000-0000-000000000000',
    });
    expect(passkeys[0].lastUsedAt).toBe(t.clock.now().toISOString());
  });

  it('needs a session', async () => {
    await expectError(t.get('/auth/passkeys'), 401, 'unauthenticated');
  });
});

describe('adding a passkey', () => {
  it('offers creation options for the signed-in user that exclude their passkeys', async () => {
    const { cookie, authenticator } = await t.signUp('adder-a');
    const response = await t.post('/auth/passkeys/options', {}, cookie);
    expect(response.status).toBe(200);
    const options = await response.json();
    expect(options.user).toMatchObject({ id: authenticator.credentials[0]!.userHandle, name: 'adder-a' });
    expect(options.excludeCredentials.map((c: any) => c.id)).toEqual([authenticator.credentials[0]!.id]);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    // The same authenticator refuses to make a second one, as a browser would.
    expect(() => authenticator.createCredential(options)).toThrow(/excludeCredentials/);
  });

  it('adds a passkey: 201 {passkey}, usable for sign-in, recorded', async () => {
    const { cookie, user } = await t.signUp('adder-b');
    const key = authenticatorWith(aaguids.yubiKey5);
    const response = await addPasskey(t, cookie, key);
    expect(response.status).toBe(201);
    const { passkey } = await response.json();
    expect(passkey).toMatchObject({ id: key.credentials[0]!.id, name: 'YubiKey 5 Series', aaguid: aaguids.yubiKey5 });
    const { passkeys } = await (await t.get('/auth/passkeys', cookie)).json();
    expect(passkeys.map((p: any) => p.id)).toContain(passkey.id);
    const login = await t.signIn(key);
    expect(login.status).toBe(200);
    expect((await login.json()).user.id).toBe(user.id);
    const [event] = await auditRows(t, user.id, 'passkey_added');
    expect(event).toMatchObject({ passkey_id: passkey.id, session_id: sessionIdOf(cookie) });
  });

  it('needs a recent verification for the options', async () => {
    const { cookie } = await t.signUp('adder-c');
    t.clock.advance(301);
    await expectError(t.post('/auth/passkeys/options', {}, cookie), 403, 'reauthentication_required');
  });

  it('refuses a credential that is already registered (409) and writes nothing', async () => {
    const alice = await t.signUp('adder-d');
    const bob = await t.signUp('adder-e');
    const options = await (await t.post('/auth/passkeys/options', {}, alice.cookie)).json();
    const before = await snapshot(t);
    const copy = authenticatorWith().createCredential(options, { credentialId: bob.authenticator.credentials[0]!.id });
    await expectError(t.post('/auth/passkeys/verify', copy, alice.cookie), 409, 'credential_exists');
    const after = await snapshot(t);
    expect(after).toEqual(before);
    expect(await auditRows(t, alice.user.id, 'passkey_added')).toEqual([]);
  });

  it('refuses options another user asked for', async () => {
    const alice = await t.signUp('adder-f');
    const bob = await t.signUp('adder-g');
    const options = await (await t.post('/auth/passkeys/options', {}, bob.cookie)).json();
    const before = await snapshot(t);
    await expectError(
      t.post('/auth/passkeys/verify', authenticatorWith().createCredential(options), alice.cookie),
      400,
      'invalid_challenge',
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a sign-up challenge', async () => {
    const { cookie } = await t.signUp('adder-h');
    const options = await (await t.post('/auth/register/options', { username: 'adder-h2' })).json();
    await expectError(
      t.post('/auth/passkeys/verify', authenticatorWith().createCredential(options), cookie),
      400,
      'invalid_challenge',
    );
  });
});

describe('PATCH /auth/passkeys/:id', () => {
  it('renames a passkey and records it; null restores the authenticator’s name', async () => {
    const { cookie, user, authenticator } = await t.signUp('renamer', authenticatorWith(aaguids.iCloudKeychain));
    const id = authenticator.credentials[0]!.id;
    const response = await t.request('PATCH', `/auth/passkeys/${id}`, { cookie, body: { name: '  Work laptop  ' } });
    expect(response.status).toBe(200);
    expect((await response.json()).passkey).toMatchObject({ id, name: 'Work laptop', customName: true });
    expect((await (await t.get('/auth/passkeys', cookie)).json()).passkeys[0].name).toBe('Work laptop');
    const [event] = await auditRows(t, user.id, 'passkey_renamed');
    expect(event).toMatchObject({ passkey_id: id });
    const reset = await t.request('PATCH', `/auth/passkeys/${id}`, { cookie, body: { name: null } });
    expect((await reset.json()).passkey).toMatchObject({ name: 'Apple Passwords', customName: false });
  });

  it('accepts 64 characters and refuses 0, 65, control characters and non-strings', async () => {
    const { cookie, authenticator } = await t.signUp('renamer-b');
    const path = `/auth/passkeys/${authenticator.credentials[0]!.id}`;
    expect((await t.request('PATCH', path, { cookie, body: { name: 'é'.repeat(64) } })).status).toBe(200);
    for (const name of ['', '   ', 'x'.repeat(65), 'a\u0007b', 'a\u202eb', 42, ['x'], 'y'.repeat(10_000)]) {
      await expectError(t.request('PATCH', path, { cookie, body: { name } }), 400, 'invalid_request');
    }
    await expectError(t.request('PATCH', path, { cookie, body: {} }), 400, 'invalid_request');
    await expectError(t.request('PATCH', path, { cookie, body: 'name' }), 400, 'invalid_request');
  });

  it('answers 404 for another user’s passkey and changes nothing', async () => {
    const mallory = await t.signUp('renamer-m');
    const victim = await t.signUp('renamer-v');
    const before = await snapshot(t);
    await expectError(
      t.request('PATCH', `/auth/passkeys/${victim.authenticator.credentials[0]!.id}`, {
        cookie: mallory.cookie,
        body: { name: 'pwned' },
      }),
      404,
      'not_found',
    );
    await expectError(
      t.request('PATCH', '/auth/passkeys/not*base64', { cookie: mallory.cookie, body: { name: 'x' } }),
      404,
      'not_found',
    );
    expect(await snapshot(t)).toEqual(before);
  });
});

describe('DELETE /auth/passkeys/:id', () => {
  it('refuses to delete the only passkey: 409 last_passkey, nothing written', async () => {
    const { cookie, user, authenticator } = await t.signUp('deleter-a');
    const before = await snapshot(t);
    await expectError(
      t.request('DELETE', `/auth/passkeys/${authenticator.credentials[0]!.id}`, { cookie }),
      409,
      'last_passkey',
    );
    expect(await snapshot(t)).toEqual(before);
    expect(await auditRows(t, user.id, 'passkey_deleted')).toEqual([]);
  });

  it('deletes a passkey and revokes the sessions it created, and only those', async () => {
    const { cookie, user, authenticator } = await t.signUp('deleter-b');
    const phone = authenticatorWith();
    expect((await addPasskey(t, cookie, phone)).status).toBe(201);
    const phoneSession = await signInCookie(t, phone);
    const laptopSession = await signInCookie(t, authenticator);
    const phoneId = phone.credentials[0]!.id;

    const response = await t.request('DELETE', `/auth/passkeys/${phoneId}`, { cookie });
    expect(response.status).toBe(204);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect((await t.get('/auth/session', phoneSession)).status).toBe(401);
    expect((await t.get('/auth/session', laptopSession)).status).toBe(200);
    expect((await t.get('/auth/session', cookie)).status).toBe(200);
    const { passkeys } = await (await t.get('/auth/passkeys', cookie)).json();
    expect(passkeys.map((p: any) => p.id)).toEqual([authenticator.credentials[0]!.id]);
    // The deleted passkey can no longer sign in.
    await expectError(t.signIn(phone), 401, 'unknown_credential');

    const [deleted] = await auditRows(t, user.id, 'passkey_deleted');
    expect(deleted).toMatchObject({ passkey_id: phoneId, details: { revokedSessions: 1 } });
    const revoked = await auditRows(t, user.id, 'session_revoked');
    expect(revoked.map((e) => e.session_id)).toEqual([sessionIdOf(phoneSession)]);
  });

  it('deleting the passkey that created the current session ends it and clears the cookie', async () => {
    const { authenticator } = await t.signUp('deleter-c');
    const phone = authenticatorWith();
    const first = await signInCookie(t, authenticator);
    expect((await addPasskey(t, first, phone)).status).toBe(201);
    const phoneSession = await signInCookie(t, phone);
    const response = await t.request('DELETE', `/auth/passkeys/${phone.credentials[0]!.id}`, { cookie: phoneSession });
    expect(response.status).toBe(204);
    expect(response.headers.getSetCookie().join()).toMatch(/Max-Age=0/);
    expect((await t.get('/auth/session', phoneSession)).status).toBe(401);
    expect((await t.get('/auth/session', first)).status).toBe(200);
  });

  it('needs a recent verification', async () => {
    const { cookie } = await t.signUp('deleter-d');
    const phone = authenticatorWith();
    expect((await addPasskey(t, cookie, phone)).status).toBe(201);
    t.clock.advance(301);
    const before = await snapshot(t);
    await expectError(
      t.request('DELETE', `/auth/passkeys/${phone.credentials[0]!.id}`, { cookie }),
      403,
      'reauthentication_required',
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('answers 404 for another user’s passkey and changes nothing', async () => {
    const mallory = await t.signUp('deleter-m');
    expect((await addPasskey(t, mallory.cookie, authenticatorWith())).status).toBe(201);
    const victim = await t.signUp('deleter-v');
    expect((await addPasskey(t, victim.cookie, authenticatorWith())).status).toBe(201);
    const before = await snapshot(t);
    await expectError(
      t.request('DELETE', `/auth/passkeys/${victim.authenticator.credentials[0]!.id}`, { cookie: mallory.cookie }),
      404,
      'not_found',
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('two concurrent deletions of a user’s two passkeys leave one', async () => {
    const { cookie, authenticator, user } = await t.signUp('deleter-race');
    const phone = authenticatorWith();
    expect((await addPasskey(t, cookie, phone)).status).toBe(201);
    const other = await signInCookie(t, authenticator);
    const results = await Promise.all([
      t.request('DELETE', `/auth/passkeys/${phone.credentials[0]!.id}`, { cookie: other }),
      t.request('DELETE', `/auth/passkeys/${authenticator.credentials[0]!.id}`, { cookie: other }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([204, 409]);
    const left = await t.database.db
      .selectFrom('passkey')
      .select('credential_id')
      .where('user_id', '=', user.id)
      .execute();
    expect(left).toHaveLength(1);
  });
});
