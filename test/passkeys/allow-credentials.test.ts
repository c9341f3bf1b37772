import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { fakeCredentials } from '../../server/passkeys/allow-credentials.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';
import { addPasskey, stepUp } from '../helpers/lifecycle.js';

const secret = 'a-server-secret-of-at-least-32-characters!';
let t: TestApp;
let alice: SoftwareAuthenticator;
let aliceKeys: string[];
let bob: SoftwareAuthenticator;
beforeAll(async () => {
  t = await createTestApp({ LOGIN_ALLOW_CREDENTIALS: 'on', LOGIN_ALLOW_CREDENTIALS_SECRET: secret });
  const signedUp = await t.signUp('alice');
  alice = signedUp.authenticator;
  const securityKey = createSoftwareAuthenticator({ origin });
  expect((await stepUp(t, signedUp.cookie, alice)).status).toBe(200);
  expect((await addPasskey(t, signedUp.cookie, securityKey)).status).toBe(201);
  alice.credentials.push(...securityKey.credentials);
  aliceKeys = alice.credentials.map((credential) => credential.id);
  ({ authenticator: bob } = await t.signUp('bob'));
});
afterAll(async () => {
  await t?.close();
});

async function options(username?: string) {
  const response = await t.post('/auth/login/options', username === undefined ? {} : { username });
  expect(response.status).toBe(200);
  return response.json();
}

describe('LOGIN_ALLOW_CREDENTIALS configuration', () => {
  it('is off by default and needs a secret when on', () => {
    expect(loadConfig({}).login).toEqual({ allowCredentials: false, fakeCredentialSecret: null });
    expect(() => loadConfig({ LOGIN_ALLOW_CREDENTIALS: 'on' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOGIN_ALLOW_CREDENTIALS: 'on' })).toThrow(/LOGIN_ALLOW_CREDENTIALS_SECRET/);
    expect(() => loadConfig({ LOGIN_ALLOW_CREDENTIALS: 'on', LOGIN_ALLOW_CREDENTIALS_SECRET: 'short' })).toThrow(
      /LOGIN_ALLOW_CREDENTIALS_SECRET/,
    );
  });
});

describe('login options with a username', () => {
  it('lists the named user’s credentials, whatever the case of the name', async () => {
    for (const name of ['alice', 'ALICE']) {
      const answer = await options(name);
      expect(answer.allowCredentials.map((c: { id: string }) => c.id)).toEqual(aliceKeys);
      expect(answer.allowCredentials[0]).toEqual({
        id: aliceKeys[0],
        type: 'public-key',
        transports: ['internal', 'hybrid'],
      });
    }
  });

  it('still lists nothing without a username', async () => {
    expect((await options()).allowCredentials ?? []).toEqual([]);
  });

  it('answers an unknown name with fake credential ids that are stable and shaped like real ones', async () => {
    const first = await options('nobody-at-all');
    const again = await options('Nobody-At-All');
    expect(again.allowCredentials).toEqual(first.allowCredentials);
    expect(Object.keys(first).sort()).toEqual(Object.keys(await options('alice')).sort());
    expect(first.allowCredentials.length).toBeGreaterThanOrEqual(1);
    expect(first.allowCredentials.length).toBeLessThanOrEqual(3);
    for (const credential of first.allowCredentials) {
      expect(Object.keys(credential).sort()).toEqual(['id', 'transports', 'type']);
      expect(credential.id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect([16, 20, 32, 48, 64]).toContain(Buffer.from(credential.id, 'base64url').byteLength);
    }
    // Another name, another list; the same name under another secret (another deployment), another list.
    expect((await options('somebody-else')).allowCredentials).not.toEqual(first.allowCredentials);
    expect(fakeCredentials('nobody-at-all', secret)).toEqual(
      first.allowCredentials.map(({ id, transports }: any) => ({ id, transports })),
    );
    expect(fakeCredentials('nobody-at-all', `${secret}x`)).not.toEqual(fakeCredentials('nobody-at-all', secret));
  });

  it('gives fake lists of one, two or three credentials, mostly one', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 2000; i++) counts[fakeCredentials(`user-${i}`, secret).length]!++;
    expect(counts[0]).toBe(0);
    expect(counts[1]! / 2000).toBeGreaterThan(0.5);
    expect(counts[1]! / 2000).toBeLessThan(0.7);
    expect(counts[2]).toBeGreaterThan(0);
    expect(counts[3]).toBeGreaterThan(0);
  });
});

describe('sign-in with allowCredentials', () => {
  it('signs in with a listed credential that answers without a user handle (a non-discoverable credential)', async () => {
    const answer = await options('alice');
    // The software authenticator picks the first listed credential it holds; a security key's
    // non-discoverable credential returns no user handle.
    const response = await t.post('/auth/login/verify', alice.getAssertion(answer, { userHandle: null }));
    expect(response.status).toBe(200);
    expect((await response.json()).user.username).toBe('alice');
  });

  it('refuses a response without a user handle to a challenge not issued for a username', async () => {
    const response = await t.post('/auth/login/verify', alice.getAssertion(await options(), { userHandle: null }));
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('verification_failed');
  });

  it('refuses another user’s passkey on a challenge issued for alice', async () => {
    const answer = await options('alice');
    const response = await t.post('/auth/login/verify', bob.getAssertion({ ...answer, allowCredentials: [] }));
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('verification_failed');
  });

  it('lets no authenticator answer the fake list of an unknown name', async () => {
    const answer = await options('nobody-at-all');
    expect(() => alice.getAssertion(answer)).toThrow(/allowCredentials/);
  });
});
