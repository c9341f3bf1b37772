import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser } from '../../server/users/service.js';
import { createTestApp, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { addPasskey, auditRows, authenticatorWith, expectError, sessionIdOf, snapshot } from '../helpers/lifecycle.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PER_IDENTIFIER: '8' });
});
afterAll(async () => {
  await t?.close();
});

async function createCodes(cookie: string): Promise<string[]> {
  const response = await t.post('/auth/recovery-codes', {}, cookie);
  expect(response.status).toBe(201);
  return (await response.json()).codes;
}

async function recover(username: string, code: string): Promise<Response> {
  return t.post('/auth/recover', { username, code });
}

describe('recovery codes', () => {
  it('creates 10 distinct high-entropy codes, shown once, stored only as hashes', async () => {
    const { cookie, user } = await t.signUp('coder');
    const response = await t.post('/auth/recovery-codes', {}, cookie);
    expect(response.status).toBe(201);
    const body = await response.json();
    expect(body.codes).toHaveLength(10);
    expect(new Set(body.codes).size).toBe(10);
    for (const code of body.codes) expect(code).toMatch(/^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
    const rows = await t.database.db.selectFrom('recovery_code').selectAll().where('user_id', '=', user.id).execute();
    expect(rows).toHaveLength(10);
    const stored = JSON.stringify(rows.map((r) => Buffer.from(r.code_hash).toString('hex')));
    for (const code of body.codes) {
      expect(stored).not.toContain(Buffer.from(code).toString('hex'));
      expect(stored).not.toContain(createHash('sha256').update(code).digest('hex'));
    }
    expect(await (await t.get('/auth/recovery-codes', cookie)).json()).toMatchObject({ remaining: 10 });
    const [event] = await auditRows(t, user.id, 'recovery_codes_created');
    expect(JSON.stringify(event)).not.toContain(body.codes[0]);
  });

  it('asking again replaces the old set', async () => {
    const { cookie } = await t.signUp('replacer');
    const first = await createCodes(cookie);
    const second = await createCodes(cookie);
    expect(second.some((c) => first.includes(c))).toBe(false);
    expect((await (await t.get('/auth/recovery-codes', cookie)).json()).remaining).toBe(10);
    await expectError(recover('replacer', first[0]!), 401, 'verification_failed');
    expect((await recover('replacer', second[0]!)).status).toBe(200);
  });

  it('needs a recent verification, and reports 0 remaining before any set exists', async () => {
    const { cookie } = await t.signUp('stale-coder');
    expect(await (await t.get('/auth/recovery-codes', cookie)).json()).toEqual({ remaining: 0, createdAt: null });
    t.clock.advance(301);
    const before = await snapshot(t);
    await expectError(t.post('/auth/recovery-codes', {}, cookie), 403, 'reauthentication_required');
    expect(await snapshot(t)).toEqual(before);
  });

  it('needs a session', async () => {
    await expectError(t.get('/auth/recovery-codes'), 401, 'unauthenticated');
    await expectError(t.post('/auth/recovery-codes', {}), 401, 'unauthenticated');
  });
});

describe('POST /auth/recover', () => {
  it('a code works once and opens a restricted session', async () => {
    const { cookie, user } = await t.signUp('lost-it');
    const codes = await createCodes(cookie);
    const response = await recover('Lost-It', codes[3]!.toUpperCase().replace(/-/g, ' '));
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      user: { id: user.id, username: 'lost-it' },
      session: { restricted: true },
      remaining: 9,
    });
    const recoveryCookie = sessionCookieOf(response)!;
    expect(recoveryCookie).toBeTruthy();
    const row = await t.database.db
      .selectFrom('session')
      .selectAll()
      .where('id', '=', sessionIdOf(recoveryCookie))
      .executeTakeFirstOrThrow();
    expect(row.kind).toBe('recovery');
    expect(row.expires_at.getTime() - t.clock.now().getTime()).toBeLessThanOrEqual(15 * 60 * 1000);

    await expectError(recover('lost-it', codes[3]!), 401, 'verification_failed');
    expect((await (await t.get('/auth/recovery-codes', cookie)).json()).remaining).toBe(9);
    const [used] = await auditRows(t, user.id, 'recovery_code_used');
    expect(used).toMatchObject({ session_id: sessionIdOf(recoveryCookie), details: { remaining: 9 } });
  });

  it('the restricted session may add a passkey, which turns it into a full session', async () => {
    const { cookie, user } = await t.signUp('rebuilder');
    const codes = await createCodes(cookie);
    const recovered = await recover('rebuilder', codes[0]!);
    const recoveryCookie = sessionCookieOf(recovered)!;
    t.clock.advance(600); // no step-up needed: the recovery code was the verification
    const newKey = authenticatorWith();
    const added = await addPasskey(t, recoveryCookie, newKey);
    expect(added.status).toBe(201);
    const fullCookie = sessionCookieOf(added)!;
    expect(fullCookie).toBeTruthy();
    expect(fullCookie).not.toBe(recoveryCookie);
    await expectError(t.get('/auth/session', recoveryCookie), 401, 'unauthenticated');
    expect((await t.get('/auth/session', fullCookie)).status).toBe(200);
    expect((await t.get('/auth/passkeys', fullCookie)).status).toBe(200);
    expect((await t.signIn(newKey)).status).toBe(200);
    expect(await auditRows(t, user.id, 'recovery_completed')).toHaveLength(1);
  });

  it('the restricted session answers 403 everywhere else, and can sign out', async () => {
    const { cookie } = await t.signUp('restricted');
    const codes = await createCodes(cookie);
    const recoveryCookie = sessionCookieOf(await recover('restricted', codes[0]!))!;
    const refused: [string, string, unknown?][] = [
      ['GET', '/auth/session'],
      ['GET', '/auth/sessions'],
      ['POST', '/auth/sessions/revoke-others', {}],
      ['DELETE', `/auth/sessions/${sessionIdOf(cookie)}`],
      ['GET', '/auth/passkeys'],
      ['PATCH', '/auth/passkeys/AAAA', { name: 'x' }],
      ['DELETE', '/auth/passkeys/AAAA'],
      ['POST', '/auth/reauth/options', {}],
      ['POST', '/auth/reauth/verify', {}],
      ['GET', '/auth/recovery-codes'],
      ['POST', '/auth/recovery-codes', {}],
      ['GET', '/auth/activity'],
      ['PATCH', '/auth/user', { displayName: 'x' }],
      ['POST', '/auth/token', {}],
    ];
    const before = await snapshot(t);
    for (const [method, path, body] of refused) {
      await expectError(t.request(method, path, { cookie: recoveryCookie, body }), 403, 'reauthentication_required');
    }
    expect(await snapshot(t)).toEqual(before);
    expect((await t.post('/auth/logout', undefined, recoveryCookie)).status).toBe(204);
    await expectError(t.post('/auth/passkeys/options', {}, recoveryCookie), 401, 'unauthenticated');
  });

  it('ends with its short lifetime', async () => {
    const { cookie } = await t.signUp('slowpoke');
    const codes = await createCodes(cookie);
    const recoveryCookie = sessionCookieOf(await recover('slowpoke', codes[0]!))!;
    t.clock.advance(15 * 60 + 1);
    await expectError(t.post('/auth/passkeys/options', {}, recoveryCookie), 401, 'unauthenticated');
  });

  it('answers a wrong code and an unknown username alike, and records the wrong code', async () => {
    const { cookie, user } = await t.signUp('guessed');
    await createCodes(cookie);
    const before = await snapshot(t);
    await expectError(recover('guessed', 'aaaa-bbbb-cccc-dddd'), 401, 'verification_failed');
    await expectError(recover('nobody-here', 'aaaa-bbbb-cccc-dddd'), 401, 'verification_failed');
    await expectError(recover('guessed', 'not a code!'), 401, 'verification_failed');
    const after = await snapshot(t);
    expect(after.codes).toEqual(before.codes);
    expect(after.sessions).toEqual(before.sessions);
    expect(await auditRows(t, user.id, 'recovery_failed')).toHaveLength(2);
  });

  it('refuses malformed input with 400', async () => {
    await expectError(t.post('/auth/recover', { username: 'ab', code: 'x' }), 400, 'invalid_request');
    await expectError(t.post('/auth/recover', { username: 'someone' }), 400, 'invalid_request');
    await expectError(t.post('/auth/recover', { username: 'someone', code: 'x'.repeat(65) }), 400, 'invalid_request');
    await expectError(t.post('/auth/recover', { username: 'someone', code: 12 }), 400, 'invalid_request');
  });

  it('rate limits attempts per username', async () => {
    const { cookie } = await t.signUp('hammered');
    const codes = await createCodes(cookie);
    for (let i = 0; i < 8; i++)
      await expectError(
        recover('hammered', `aaaa-bbbb-cccc-${String(i).padStart(4, '0')}`),
        401,
        'verification_failed',
      );
    const limited = await recover('hammered', codes[0]!);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await t.get('/auth/recovery-codes', cookie).then((r) => r.json())).remaining).toBe(10);
  });

  it('a disabled account gets 403 account_disabled and keeps its code', async () => {
    const { cookie, user } = await t.signUp('disabled-r');
    const codes = await createCodes(cookie);
    await disableUser(t.deps, { userId: user.id, actor: 'admin' });
    const before = await snapshot(t);
    await expectError(recover('disabled-r', codes[0]!), 403, 'account_disabled');
    expect(await snapshot(t)).toEqual(before);
    expect(await auditRows(t, user.id, 'recovery_code_used')).toEqual([]);
  });

  it('concurrent uses of one code open exactly one session', async () => {
    const { cookie, user } = await t.signUp('racer-r');
    const codes = await createCodes(cookie);
    const results = await Promise.all(Array.from({ length: 5 }, () => recover('racer-r', codes[0]!)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401]);
    const sessions = await t.database.db
      .selectFrom('session')
      .select('id')
      .where('user_id', '=', user.id)
      .where('kind', '=', 'recovery')
      .execute();
    expect(sessions).toHaveLength(1);
  });
});
