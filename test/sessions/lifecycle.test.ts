import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { auditRows, expectError, sessionIdOf, signInCookie, snapshot } from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ REAUTH_WINDOW: '300' });
});
afterAll(async () => {
  await t?.close();
});

describe('GET /auth/sessions', () => {
  it('lists the user’s live sessions with the current one marked, and never a token', async () => {
    const { cookie, user, authenticator } = await t.signUp('lister');
    const second = await t.request('POST', '/auth/login/options', { body: {} });
    const login = await t.request('POST', '/auth/login/verify', {
      body: authenticator.getAssertion(await second.json()),
      headers: { 'User-Agent': 'Phone Browser/1.0' },
    });
    expect(login.status).toBe(200);
    const other = await t.signUp('someone-else');

    const response = await t.get('/auth/sessions', cookie);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    const { sessions } = JSON.parse(text);
    expect(sessions).toHaveLength(2);
    const current = sessions.find((s: any) => s.current);
    expect(current.id).toBe(sessionIdOf(cookie));
    expect(sessions.filter((s: any) => s.current)).toHaveLength(1);
    const phone = sessions.find((s: any) => !s.current);
    expect(phone).toMatchObject({
      userAgent: 'Phone Browser/1.0',
      restricted: false,
      passkeyId: authenticator.credentials[0]!.id,
    });
    for (const s of sessions) {
      expect(Object.keys(s)).toEqual(
        expect.arrayContaining(['id', 'createdAt', 'lastSeenAt', 'expiresAt', 'userAgent', 'current']),
      );
      expect(s.createdAt).toMatch(/Z$/);
    }
    // No secret half of any token, and no other user's session.
    expect(text).not.toContain(cookie.split('.')[1]);
    expect(text).not.toContain(sessionIdOf(other.cookie));
    expect(user.id).toBeTruthy();
  });

  it('leaves out revoked and expired sessions', async () => {
    const { cookie, authenticator } = await t.signUp('tidy');
    const old = await signInCookie(t, authenticator);
    await t.post('/auth/logout', undefined, old);
    const { sessions } = await (await t.get('/auth/sessions', cookie)).json();
    expect(sessions.map((s: any) => s.id)).toEqual([sessionIdOf(cookie)]);
  });

  it('answers 401 without a session', async () => {
    await expectError(t.get('/auth/sessions'), 401, 'unauthenticated');
  });
});

describe('DELETE /auth/sessions/:id', () => {
  it('revokes one of the user’s own sessions: 204, dead at once, recorded', async () => {
    const { cookie, user, authenticator } = await t.signUp('revoker');
    const laptop = await signInCookie(t, authenticator);
    const response = await t.request('DELETE', `/auth/sessions/${sessionIdOf(laptop)}`, { cookie });
    expect(response.status).toBe(204);
    expect(response.headers.getSetCookie()).toEqual([]);
    await expectError(t.get('/auth/session', laptop), 401, 'unauthenticated');
    expect((await t.get('/auth/session', cookie)).status).toBe(200);
    const [event] = await auditRows(t, user.id, 'session_revoked');
    expect(event).toMatchObject({ actor: 'user', session_id: sessionIdOf(laptop) });
  });

  it('revoking the current session clears the cookie', async () => {
    const { cookie } = await t.signUp('self-revoker');
    const response = await t.request('DELETE', `/auth/sessions/${sessionIdOf(cookie)}`, { cookie });
    expect(response.status).toBe(204);
    expect(response.headers.getSetCookie().join()).toMatch(/__Host-session=;.*Max-Age=0/);
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
  });

  it('answers 404 for another user’s session and changes nothing', async () => {
    const mallory = await t.signUp('mallory-s');
    const victim = await t.signUp('victim-s');
    const before = await snapshot(t);
    await expectError(
      t.request('DELETE', `/auth/sessions/${sessionIdOf(victim.cookie)}`, { cookie: mallory.cookie }),
      404,
      'not_found',
    );
    expect(await snapshot(t)).toEqual(before);
    expect((await t.get('/auth/session', victim.cookie)).status).toBe(200);
  });

  it('answers 404 for unknown, already revoked and malformed ids', async () => {
    const { cookie, authenticator } = await t.signUp('prober');
    const other = await signInCookie(t, authenticator);
    await t.post('/auth/logout', undefined, other);
    await expectError(t.request('DELETE', `/auth/sessions/${sessionIdOf(other)}`, { cookie }), 404, 'not_found');
    await expectError(t.request('DELETE', '/auth/sessions/AAAAAAAAAAAAAAAAAAAA', { cookie }), 404, 'not_found');
    await expectError(t.request('DELETE', '/auth/sessions/%00bad', { cookie }), 404, 'not_found');
    await expectError(t.request('DELETE', `/auth/sessions/${'x'.repeat(5000)}`, { cookie }), 404, 'not_found');
  });

  it('needs a recent verification to revoke another session (as revoke-others does), not to end the current one', async () => {
    const { cookie, authenticator } = await t.signUp('stale-one');
    const other = await signInCookie(t, authenticator);
    const mallory = await t.signUp('stale-one-mallory');
    t.clock.advance(301);
    const before = await snapshot(t);
    await expectError(
      t.request('DELETE', `/auth/sessions/${sessionIdOf(other)}`, { cookie }),
      403,
      'reauthentication_required',
    );
    expect(await snapshot(t)).toEqual(before);
    expect((await t.get('/auth/session', other)).status).toBe(200);
    // Another user's session stays 404, verified or not: the answer reveals nothing.
    await expectError(
      t.request('DELETE', `/auth/sessions/${sessionIdOf(mallory.cookie)}`, { cookie }),
      404,
      'not_found',
    );
    // Ending the current session never needs a step-up.
    expect((await t.request('DELETE', `/auth/sessions/${sessionIdOf(other)}`, { cookie: other })).status).toBe(204);
    expect((await t.get('/auth/session', other)).status).toBe(401);
  });

  it('refuses a cross-site request before anything else', async () => {
    const { cookie, authenticator } = await t.signUp('csrf-s');
    const laptop = await signInCookie(t, authenticator);
    await expectError(
      t.request('DELETE', `/auth/sessions/${sessionIdOf(laptop)}`, {
        cookie,
        headers: { Origin: 'https://evil.example' },
      }),
      403,
      'csrf',
    );
    expect((await t.get('/auth/session', laptop)).status).toBe(200);
  });
});

describe('POST /auth/sessions/revoke-others', () => {
  it('revokes every other session of the user and keeps the current one', async () => {
    const { cookie, user, authenticator } = await t.signUp('cleaner');
    const a = await signInCookie(t, authenticator);
    const b = await signInCookie(t, authenticator);
    const bystander = await t.signUp('bystander');
    const response = await t.post('/auth/sessions/revoke-others', {}, cookie);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ revoked: 2 });
    expect((await t.get('/auth/session', a)).status).toBe(401);
    expect((await t.get('/auth/session', b)).status).toBe(401);
    expect((await t.get('/auth/session', cookie)).status).toBe(200);
    expect((await t.get('/auth/session', bystander.cookie)).status).toBe(200);
    const events = await auditRows(t, user.id, 'session_revoked');
    expect(events.map((e) => e.session_id).sort()).toEqual([sessionIdOf(a), sessionIdOf(b)].sort());
    expect((await (await t.post('/auth/sessions/revoke-others', {}, cookie)).json()).revoked).toBe(0);
  });

  it('needs a recent verification: 403 reauthentication_required once the window has passed, nothing revoked', async () => {
    const { cookie, authenticator } = await t.signUp('stale-s');
    const other = await signInCookie(t, authenticator);
    t.clock.advance(301);
    const before = await snapshot(t);
    await expectError(t.post('/auth/sessions/revoke-others', {}, cookie), 403, 'reauthentication_required');
    expect(await snapshot(t)).toEqual(before);
    expect((await t.get('/auth/session', other)).status).toBe(200);
  });
});
