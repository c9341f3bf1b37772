import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { mintToken, secretOf, sessionIdOf } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest();

async function sessionRow(cookie: string) {
  return t.database.db
    .selectFrom('session')
    .selectAll()
    .where('id', '=', sessionIdOf(cookie))
    .executeTakeFirstOrThrow();
}

async function reuseEvents(cookie: string) {
  return t.database.db
    .selectFrom('audit_event')
    .selectAll()
    .where('type', '=', 'token_reuse_detected')
    .where('session_id', '=', sessionIdOf(cookie))
    .execute();
}

describe('session secret rotation when minting tokens', () => {
  it('keeps the secret while it is younger than the rotation age', async () => {
    const { cookie } = await t.signUp('young');
    t.clock.advance(899);
    const { response, rotatedCookie } = await mintToken(t, cookie);
    expect(response.status).toBe(200);
    expect(rotatedCookie).toBeNull();
  });

  it('rotates an older secret: one new cookie, same session, the old hash kept as previous', async () => {
    const { cookie } = await t.signUp('rotating');
    t.clock.advance(900);
    const { response, rotatedCookie } = await mintToken(t, cookie);
    expect(response.status).toBe(200);
    expect(rotatedCookie).not.toBeNull();
    expect(rotatedCookie).not.toBe(cookie);
    expect(sessionIdOf(rotatedCookie!)).toBe(sessionIdOf(cookie));
    // Exactly one session cookie in the answer, with the cookie's usual attributes.
    const setCookies = response.headers.getSetCookie().filter((h) => h.startsWith('__Host-session='));
    expect(setCookies).toHaveLength(1);
    expect(setCookies[0]).toMatch(/HttpOnly/);
    expect(setCookies[0]).toMatch(/Secure/);
    const row = await sessionRow(cookie);
    expect(Buffer.from(row.secret_hash).equals(sha256(secretOf(rotatedCookie!)))).toBe(true);
    expect(Buffer.from(row.previous_secret_hash!).equals(sha256(secretOf(cookie)))).toBe(true);
    expect(row.secret_rotated_at?.getTime()).toBe(t.clock.now().getTime());
    // The new secret works, and is not rotated again right away.
    const again = await mintToken(t, rotatedCookie!);
    expect(again.response.status).toBe(200);
    expect(again.rotatedCookie).toBeNull();
  });

  it('keeps the previous secret valid during the grace, without sending it back or minting a second successor', async () => {
    const { cookie } = await t.signUp('graceful');
    t.clock.advance(900);
    const { rotatedCookie } = await mintToken(t, cookie);
    t.clock.advance(29);
    const session = await t.get('/auth/session', cookie);
    expect(session.status).toBe(200);
    expect(sessionCookieOf(session)).toBeNull();
    const late = await mintToken(t, cookie);
    expect(late.response.status).toBe(200);
    expect(late.rotatedCookie).toBeNull();
    const row = await sessionRow(cookie);
    expect(Buffer.from(row.secret_hash).equals(sha256(secretOf(rotatedCookie!)))).toBe(true);
    expect(await reuseEvents(cookie)).toHaveLength(0);
  });

  it('revokes the whole session and records token_reuse_detected when the previous secret comes back after the grace', async () => {
    const { cookie, user } = await t.signUp('stolen');
    t.clock.advance(900);
    const { rotatedCookie } = await mintToken(t, cookie);
    t.clock.advance(30);
    const replay = await t.get('/auth/session', cookie);
    expect(replay.status).toBe(401);
    // The thief and the user are both out: the successor dies with the session.
    expect((await t.get('/auth/session', rotatedCookie!)).status).toBe(401);
    expect((await mintToken(t, rotatedCookie!)).response.status).toBe(401);
    const row = await sessionRow(cookie);
    expect(row.revoked_at?.getTime()).toBe(t.clock.now().getTime());
    const events = await reuseEvents(cookie);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ user_id: user.id, actor: 'system', risk: 'high' });
    expect(JSON.stringify(events[0])).not.toContain(secretOf(cookie));
  });

  it('detects the replay on any route, also when the thief rotated first', async () => {
    const { cookie } = await t.signUp('thieffirst');
    t.clock.advance(900);
    // The thief, holding a copy of the cookie, mints first and gets the successor.
    const thief = await mintToken(t, cookie);
    expect(thief.rotatedCookie).not.toBeNull();
    t.clock.advance(120);
    // The user comes back with the original: the session ends for both.
    expect((await mintToken(t, cookie)).response.status).toBe(401);
    expect((await t.get('/auth/session', thief.rotatedCookie!)).status).toBe(401);
    expect(await reuseEvents(cookie)).toHaveLength(1);
  });

  it('gives concurrent refreshes one successor between them, and all of them a token', async () => {
    const { cookie } = await t.signUp('concurrent');
    t.clock.advance(900);
    const results = await Promise.all(Array.from({ length: 8 }, () => mintToken(t, cookie)));
    expect(results.map((r) => r.response.status)).toEqual(Array(8).fill(200));
    const successors = results.map((r) => r.rotatedCookie).filter((c): c is string => c !== null);
    expect(successors).toHaveLength(1);
    const row = await sessionRow(cookie);
    expect(Buffer.from(row.secret_hash).equals(sha256(secretOf(successors[0]!)))).toBe(true);
    expect(Buffer.from(row.previous_secret_hash!).equals(sha256(secretOf(cookie)))).toBe(true);
    // The losers keep working with the old secret during the grace, and the winner's cookie works.
    expect((await t.get('/auth/session', cookie)).status).toBe(200);
    expect((await t.get('/auth/session', successors[0]!)).status).toBe(200);
  });

  it('revokes once and records one event for concurrent replays after the grace', async () => {
    const { cookie } = await t.signUp('replays');
    t.clock.advance(900);
    await mintToken(t, cookie);
    t.clock.advance(31);
    const replies = await Promise.all(Array.from({ length: 6 }, () => t.get('/auth/session', cookie)));
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(401));
    expect(await reuseEvents(cookie)).toHaveLength(1);
  });

  it('does not treat a secret from two rotations ago as the previous one', async () => {
    const { cookie } = await t.signUp('twice');
    t.clock.advance(900);
    const first = (await mintToken(t, cookie)).rotatedCookie!;
    t.clock.advance(900);
    const second = (await mintToken(t, first)).rotatedCookie!;
    expect(second).not.toBeNull();
    // The oldest secret is simply unknown now (401), while `first` is the previous one within its grace.
    expect((await t.get('/auth/session', cookie)).status).toBe(401);
    expect((await t.get('/auth/session', first)).status).toBe(200);
  });
});

describe('rotation settings', () => {
  it('follows SESSION_SECRET_ROTATION_AGE and SESSION_SECRET_GRACE', async () => {
    const other = await createTestApp({ SESSION_SECRET_ROTATION_AGE: '60', SESSION_SECRET_GRACE: '5' });
    try {
      const { cookie } = await other.signUp('settings');
      other.clock.advance(60);
      const { rotatedCookie } = await mintToken(other, cookie);
      expect(rotatedCookie).not.toBeNull();
      other.clock.advance(4);
      expect((await other.get('/auth/session', cookie)).status).toBe(200);
      other.clock.advance(1);
      expect((await other.get('/auth/session', cookie)).status).toBe(401);
    } finally {
      await other.close();
    }
  });
});
