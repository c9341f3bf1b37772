import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccountClient } from '../../client/src/account.js';
import { AuthClientError } from '../../client/src/errors.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { addPasskey, authenticatorWith, sessionIdOf } from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

/** A fetch into the app that behaves like a same-origin browser with one cookie. */
function browserFetch(cookie: string) {
  let jar: string | null = cookie;
  return async (input: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    headers.set('Origin', origin);
    if (jar) headers.set('Cookie', jar);
    const response = await t.app.request(input, { ...init, headers });
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      jar = /Max-Age=0/i.test(header) ? null : (pair ?? null);
    }
    return response;
  };
}

type Signal = { name: string; options: any };
const signals: Signal[] = [];

/** The browser's Signal API as a recorder (Chrome 132+ has it; Node has no PublicKeyCredential). */
function installSignalApi(): void {
  (globalThis as any).PublicKeyCredential = class {
    static async signalAllAcceptedCredentials(options: unknown) {
      signals.push({ name: 'allAcceptedCredentials', options });
    }
    static async signalCurrentUserDetails(options: unknown) {
      signals.push({ name: 'currentUserDetails', options });
    }
    static async signalUnknownCredential(options: unknown) {
      signals.push({ name: 'unknownCredential', options });
    }
  };
}

afterEach(() => {
  delete (globalThis as any).PublicKeyCredential;
  signals.length = 0;
});

describe('account client', () => {
  it('lists and revokes sessions, lists, renames and deletes passkeys, reads activity', async () => {
    const { cookie, authenticator } = await t.signUp('client-user');
    const phone = authenticatorWith();
    expect((await addPasskey(t, cookie, phone)).status).toBe(201);
    const other = await t.signIn(authenticator);
    const account = createAccountClient({ fetch: browserFetch(cookie) });

    const sessions = await account.listSessions();
    expect(sessions.find((s) => s.current)?.id).toBe(sessionIdOf(cookie));
    const otherId = sessions.find((s) => !s.current)!.id;
    await account.revokeSession(otherId);
    expect((await account.listSessions()).map((s) => s.id)).toEqual([sessionIdOf(cookie)]);
    expect(other.status).toBe(200);

    const passkeys = await account.listPasskeys();
    expect(passkeys.map((p) => p.name)).toEqual(['Passkey', 'Passkey']);
    const renamed = await account.renamePasskey(phone.credentials[0]!.id, 'Phone');
    expect(renamed.name).toBe('Phone');

    installSignalApi();
    await account.deletePasskey(phone.credentials[0]!.id);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(signals).toEqual([
      {
        name: 'allAcceptedCredentials',
        options: {
          rpId: 'localhost',
          userId: authenticator.credentials[0]!.userHandle,
          allAcceptedCredentialIds: [authenticator.credentials[0]!.id],
        },
      },
    ]);
    expect((await account.listPasskeys()).map((p) => p.id)).toEqual([authenticator.credentials[0]!.id]);

    const page = await account.getActivity({ limit: 2 });
    expect(page.events).toHaveLength(2);
    expect(page.nextCursor).toEqual(expect.any(String));
    const next = await account.getActivity({ cursor: page.nextCursor!, limit: 2 });
    expect(next.events[0]!.id).not.toBe(page.events[1]!.id);
  });

  it('sends signalCurrentUserDetails after a display name change', async () => {
    const { cookie, authenticator } = await t.signUp('client-renamer');
    const account = createAccountClient({ fetch: browserFetch(cookie) });
    installSignalApi();
    const user = await account.updateDisplayName('Client Renamer');
    expect(user.displayName).toBe('Client Renamer');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(signals).toEqual([
      {
        name: 'currentUserDetails',
        options: {
          rpId: 'localhost',
          userId: authenticator.credentials[0]!.userHandle,
          name: 'client-renamer',
          displayName: 'Client Renamer',
        },
      },
    ]);
  });

  it('does not throw where the browser has no Signal API', async () => {
    const { cookie } = await t.signUp('client-old-browser');
    const account = createAccountClient({ fetch: browserFetch(cookie) });
    await expect(account.updateDisplayName('Old Browser')).resolves.toMatchObject({ displayName: 'Old Browser' });
  });

  it('recovers with a code and reports what is left; a wrong code rejects with verification_failed', async () => {
    const { cookie } = await t.signUp('client-recover');
    const codes = (await (await t.post('/auth/recovery-codes', {}, cookie)).json()).codes as string[];
    const status = await createAccountClient({ fetch: browserFetch(cookie) }).getRecoveryCodeStatus();
    expect(status.remaining).toBe(10);
    const anonymous = createAccountClient({ fetch: browserFetch('') });
    await expect(anonymous.recover({ username: 'client-recover', code: 'zzzz-zzzz-zzzz-zzzz' })).rejects.toMatchObject({
      code: 'verification_failed',
    });
    const recovered = await anonymous.recover({ username: 'client-recover', code: codes[0]! });
    expect(recovered).toMatchObject({ user: { username: 'client-recover' }, remaining: 9 });
    await expect(anonymous.listSessions()).rejects.toBeInstanceOf(AuthClientError);
  });
});
