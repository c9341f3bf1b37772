import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const day = 86_400;

function setCookieHeader(response: Response): string {
  const header = response.headers.getSetCookie().find((h) => h.startsWith('__Host-session='));
  if (!header) throw new Error('no Set-Cookie for the session');
  return header;
}

describe('sessions', () => {
  it('describes the signed-in user and the session', async () => {
    const { cookie, user } = await t.signUp('sally');
    const response = await t.get('/auth/session', cookie);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.json();
    expect(body).toEqual({
      user: { id: user.id, username: 'sally', displayName: 'sally' },
      session: { id: expect.any(String), createdAt: expect.any(String), expiresAt: expect.any(String) },
    });
    expect(new Date(body.session.expiresAt).getTime() - new Date(body.session.createdAt).getTime()).toBe(
      7 * day * 1000,
    );
    expect(body.session.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('sets the cookie HttpOnly, Secure, SameSite=Lax, Path=/, without Domain, with a Max-Age within the session', async () => {
    const options = await (await t.post('/auth/register/options', { username: 'cookie-monster' })).json();
    const { createSoftwareAuthenticator } = await import('../helpers/authenticator.js');
    const response = await t.post(
      '/auth/register/verify',
      createSoftwareAuthenticator({ origin: 'http://localhost:3000' }).createCredential(options),
    );
    const header = setCookieHeader(response);
    const attributes = header.split(';').map((a) => a.trim().toLowerCase());
    expect(attributes).toContain('httponly');
    expect(attributes).toContain('secure');
    expect(attributes).toContain('samesite=lax');
    expect(attributes).toContain('path=/');
    expect(attributes.some((a) => a.startsWith('domain'))).toBe(false);
    const maxAge = Number(attributes.find((a) => a.startsWith('max-age='))?.split('=')[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(7 * day);
    // id.secret: a 120-bit id and a 256-bit secret.
    const token = header.split(';')[0]!.split('=')[1]!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]{43}$/);
  });

  it('stores only a SHA-256 hash of the session secret', async () => {
    const { cookie } = await t.signUp('hashed');
    const [id, secret] = cookie.split('=')[1]!.split('.') as [string, string];
    const row = await t.database.db.selectFrom('session').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(Buffer.from(row.secret_hash).equals(createHash('sha256').update(secret).digest())).toBe(true);
    const everything = JSON.stringify(await t.database.db.selectFrom('session').selectAll().execute(), (_, v) =>
      v && v.type === 'Buffer' ? Buffer.from(v.data).toString('base64url') : v,
    );
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(Buffer.from(secret).toString('hex'));
  });

  it('expires after the idle timeout and clears the cookie', async () => {
    const { cookie } = await t.signUp('idler');
    t.clock.advance(7 * day + 1);
    const response = await t.get('/auth/session', cookie);
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('unauthenticated');
    expect(setCookieHeader(response)).toMatch(/Max-Age=0/);
  });

  it('slides the idle expiry on use, and resends the cookie when it does', async () => {
    const { cookie } = await t.signUp('regular');
    for (let i = 0; i < 3; i++) {
      t.clock.advance(6 * day);
      const response = await t.get('/auth/session', cookie);
      expect(response.status).toBe(200);
      expect(sessionCookieOf(response)).toBe(cookie);
    }
  });

  it('ends at the absolute lifetime however active the user is', async () => {
    const { cookie } = await t.signUp('marathon');
    for (let elapsed = 0; elapsed < 28 * day; elapsed += 2 * day) {
      t.clock.advance(2 * day);
      expect((await t.get('/auth/session', cookie)).status).toBe(200);
    }
    t.clock.advance(2 * day);
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
  });

  it('writes last_seen_at at most once per touch interval', async () => {
    const { cookie } = await t.signUp('quiet');
    const id = cookie.split('=')[1]!.split('.')[0]!;
    const lastSeen = async () =>
      (
        await t.database.db.selectFrom('session').select('last_seen_at').where('id', '=', id).executeTakeFirstOrThrow()
      ).last_seen_at.getTime();
    const created = await lastSeen();
    t.clock.advance(30);
    const quiet = await t.get('/auth/session', cookie);
    expect(quiet.status).toBe(200);
    expect(quiet.headers.getSetCookie()).toEqual([]);
    expect(await lastSeen()).toBe(created);
    t.clock.advance(31);
    expect((await t.get('/auth/session', cookie)).status).toBe(200);
    expect(await lastSeen()).toBe(t.clock.now().getTime());
  });

  it('logs out: 204, cookie cleared, and the token is dead at once', async () => {
    const { cookie } = await t.signUp('leaver');
    const response = await t.post('/auth/logout', undefined, cookie);
    expect(response.status).toBe(204);
    expect(setCookieHeader(response)).toMatch(/^__Host-session=;.*Max-Age=0/);
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
    const id = cookie.split('=')[1]!.split('.')[0]!;
    const row = await t.database.db
      .selectFrom('session')
      .select('revoked_at')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).not.toBeNull();
  });

  it('answers 401 to a tampered cookie and clears it', async () => {
    const { cookie } = await t.signUp('tamper');
    const last = cookie.at(-1) === 'A' ? 'B' : 'A';
    for (const bad of [cookie.slice(0, -1) + last, '__Host-session=garbage', '__Host-session=', `${cookie}x`]) {
      const response = await t.get('/auth/session', bad);
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe('unauthenticated');
      expect(setCookieHeader(response)).toMatch(/Max-Age=0/);
    }
  });

  it('answers 401 without any cookie', async () => {
    const response = await t.get('/auth/session');
    expect(response.status).toBe(401);
    expect((await response.json()).error).toEqual({ code: 'unauthenticated', message: expect.any(String) });
  });

  it('accepts the session only from the cookie, not from a query string or Authorization header', async () => {
    const { cookie } = await t.signUp('header-user');
    const token = cookie.split('=')[1]!;
    expect((await t.request('GET', `/auth/session?session=${token}`)).status).toBe(401);
    expect((await t.request('GET', '/auth/session', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(
      401,
    );
  });

  it('refuses duplicated session cookies', async () => {
    const { cookie } = await t.signUp('doubled');
    const { cookie: other } = await t.signUp('doubled-too');
    expect((await t.get('/auth/session', `${cookie}; ${other}`)).status).toBe(401);
  });

  it('issues a new token at every sign-in (no session fixation)', async () => {
    const { cookie, authenticator } = await t.signUp('fixated');
    const login = await t.signIn(authenticator);
    const fresh = sessionCookieOf(login);
    expect(fresh).not.toBeNull();
    expect(fresh).not.toBe(cookie);
  });
});
