import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('GET /auth/session/status', () => {
  it('answers 200 signedIn false without a cookie, and sets no cookie', async () => {
    const response = await t.get('/auth/session/status');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ signedIn: false });
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('answers like GET /auth/session, with signedIn true, when signed in', async () => {
    const { cookie } = await t.signUp('stella');
    const [status, session] = await Promise.all([
      t.get('/auth/session/status', cookie),
      t.get('/auth/session', cookie),
    ]);
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ signedIn: true, restricted: false, ...(await session.json()) });
  });

  it('answers signedIn false and clears the cookie of a revoked or tampered session', async () => {
    const { cookie } = await t.signUp('revoked-ruth');
    expect((await t.post('/auth/logout', {}, cookie)).status).toBe(204);
    for (const dead of [cookie, `${cookie}x`, '__Host-session=garbage']) {
      const response = await t.get('/auth/session/status', dead);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ signedIn: false });
      expect(response.headers.getSetCookie().some((h) => /^__Host-session=;/.test(h) && /Max-Age=0/i.test(h))).toBe(
        true,
      );
    }
  });

  it('answers signedIn false once the session has idled out', async () => {
    const { cookie } = await t.signUp('idle-ida');
    t.clock.advance(8 * 86_400);
    expect(await (await t.get('/auth/session/status', cookie)).json()).toEqual({ signedIn: false });
  });

  it('marks a recovery session as restricted', async () => {
    const { cookie } = await t.signUp('rescued-rita');
    const created = await t.post('/auth/recovery-codes', {}, cookie);
    expect(created.status).toBe(201);
    const { codes } = (await created.json()) as { codes: string[] };
    const recovered = await t.post('/auth/recover', { username: 'rescued-rita', code: codes[0] });
    expect(recovered.status).toBe(200);
    const recoveryCookie = sessionCookieOf(recovered)!;
    const body = await (await t.get('/auth/session/status', recoveryCookie)).json();
    expect(body).toMatchObject({ signedIn: true, restricted: true, user: { username: 'rescued-rita' } });
  });
});
