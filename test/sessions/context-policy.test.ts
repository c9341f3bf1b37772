import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { networkOf } from '../../server/net/network.js';
import { assessSessionContext } from '../../server/risk/session-context.js';
import { liveAt } from '../../server/sessions/lifetime.js';
import { findActiveSession, type LookupContext } from '../../server/sessions/repository.js';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { checkedApp } from '../helpers/conformance.js';
import {
  attacker,
  auditCount,
  type Client,
  chromeOnWindows,
  chromeOnWindowsElsewhere,
  chromeOnWindowsUpdated,
  eventsOf,
  expectError,
  firefoxOnLinuxSameNetwork,
  from,
  reauthFrom,
  sessionIdOf,
  signUpFrom,
} from '../risk/helpers.js';

// One database for the file; tests use their own users, and build apps with their own policies on it.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

/** The test app with other risk policies, on the same database and clock. */
function withPolicy(env: Record<string, string>): TestApp {
  const config = loadConfig({ ORIGIN: origin, ...env });
  return { ...t, config, app: checkedApp(createApp({ ...t.deps, config })) };
}

const sessionRow = (cookie: string) =>
  t.database.db.selectFrom('session').selectAll().where('id', '=', sessionIdOf(cookie)).executeTakeFirstOrThrow();

async function expectOk(client: Client, cookie: string, app: TestApp = t) {
  const response = await from(app, client, 'GET', '/auth/passkeys', { cookie });
  expect(response.status).toBe(200);
}

describe('session context', () => {
  it('stores the browser family, OS and network the session was created in', async () => {
    const { cookie } = await signUpFrom(t, chromeOnWindows, 'ctx-stored');
    expect(await sessionRow(cookie)).toMatchObject({
      context_user_agent: chromeOnWindows.userAgent,
      context_browser: 'Chrome',
      context_os: 'Windows',
      networks: ['203.0.113.0/24'],
      suspect_at: null,
      step_up_required_at: null,
    });
  });

  it('writes nothing, to the audit trail or the session, while the context stays the same', async () => {
    const { cookie } = await signUpFrom(t, chromeOnWindows, 'ctx-quiet');
    const before = await sessionRow(cookie);
    const events = await auditCount(t);
    for (let i = 0; i < 5; i++) {
      await expectOk(chromeOnWindows, cookie);
      expect((await from(t, chromeOnWindows, 'GET', '/auth/session', { cookie })).status).toBe(200);
      // Another address on the same /24, and a newer version of the same browser, are the same context.
      await expectOk({ ...chromeOnWindowsUpdated, address: '203.0.113.200' }, cookie);
    }
    expect(await auditCount(t)).toBe(events);
    expect(await sessionRow(cookie)).toEqual(before);
  });

  it('requires a passkey re-verification of a cookie replayed from another browser and network, then lets it pass', async () => {
    const { cookie, user, authenticator } = await signUpFrom(t, chromeOnWindows, 'ctx-stolen');
    await expectError(from(t, attacker, 'GET', '/auth/passkeys', { cookie }), 403, 'reauthentication_required');
    await expectError(from(t, attacker, 'GET', '/auth/activity', { cookie }), 403, 'reauthentication_required');
    await expectError(from(t, attacker, 'POST', '/auth/token', { cookie, body: {} }), 403, 'reauthentication_required');
    // The whole session is held, from wherever it is used, and says so on GET /auth/session.
    await expectError(from(t, chromeOnWindows, 'GET', '/auth/sessions', { cookie }), 403, 'reauthentication_required');
    const session = await from(t, attacker, 'GET', '/auth/session', { cookie });
    expect(session.status).toBe(200);
    expect((await session.json()).session).toMatchObject({ id: sessionIdOf(cookie), stepUpRequired: true });

    // One event for the change, however many requests follow it.
    const [event, ...more] = await eventsOf(t, user.id, 'session_suspect');
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      session_id: sessionIdOf(cookie),
      actor: 'system',
      risk: 'high',
      ip_address: attacker.address,
      user_agent: attacker.userAgent,
      details: {
        signal: 'ua_and_network_change',
        action: 'step-up',
        previous: { browser: 'Chrome', os: 'Windows', networks: ['203.0.113.0/24'] },
        current: { browser: 'Firefox', os: 'Linux', network: '192.0.2.0/24' },
      },
    });
    // The webhook hears of it.
    const outbox = await t.database.db
      .selectFrom('event_outbox')
      .select('type')
      .where('id', '=', event!.id)
      .executeTakeFirst();
    expect(outbox?.type).toBe('session.suspect');

    // A re-verification with the user's passkey lifts the hold and makes this context the trusted one.
    expect((await reauthFrom(t, attacker, cookie, authenticator)).status).toBe(200);
    const events = await auditCount(t);
    await expectOk(attacker, cookie);
    await expectOk(attacker, cookie);
    expect(await auditCount(t)).toBe(events);
    expect(await sessionRow(cookie)).toMatchObject({
      context_browser: 'Firefox',
      context_os: 'Linux',
      networks: ['203.0.113.0/24', '192.0.2.0/24'],
      suspect_at: null,
      step_up_required_at: null,
    });
    const session2 = await (await from(t, attacker, 'GET', '/auth/session', { cookie })).json();
    expect(session2.session.stepUpRequired).toBeUndefined();
  });

  it('shows the suspect session in the user’s activity, marked with its risk', async () => {
    const { cookie, authenticator } = await signUpFrom(t, chromeOnWindows, 'ctx-activity');
    t.clock.advance(1);
    await from(t, attacker, 'GET', '/auth/passkeys', { cookie });
    t.clock.advance(1);
    expect((await reauthFrom(t, chromeOnWindows, cookie, authenticator)).status).toBe(200);
    const { events } = await (await from(t, chromeOnWindows, 'GET', '/auth/activity', { cookie })).json();
    expect(events.map((e: any) => [e.type, e.risk])).toEqual([
      ['reauthenticated', null],
      ['session_suspect', 'high'],
      ['user_registered', null],
    ]);
  });

  it('still signs out a session that waits for a re-verification', async () => {
    const { cookie, user } = await signUpFrom(t, chromeOnWindows, 'ctx-logout');
    await from(t, attacker, 'GET', '/auth/passkeys', { cookie });
    const response = await from(t, chromeOnWindows, 'POST', '/auth/logout', { cookie, body: {} });
    expect(response.status).toBe(204);
    expect((await sessionRow(cookie)).revoked_at).not.toBeNull();
    expect(await eventsOf(t, user.id, 'logout')).toHaveLength(1);
  });

  it('applies the same checks on GET /auth/session/status: a replayed cookie is held, a revoked one signed out', async () => {
    const { cookie } = await signUpFrom(t, chromeOnWindows, 'ctx-status');
    const held = await (await from(t, attacker, 'GET', '/auth/session/status', { cookie })).json();
    expect(held).toMatchObject({ signedIn: true, session: { stepUpRequired: true } });
    await expectError(from(t, chromeOnWindows, 'GET', '/auth/passkeys', { cookie }), 403, 'reauthentication_required');

    const strict = withPolicy({ RISK_POLICY_UA_AND_NETWORK_CHANGE: 'revoke' });
    const { cookie: other } = await signUpFrom(strict, chromeOnWindows, 'ctx-status-revoke');
    const revoked = await from(strict, attacker, 'GET', '/auth/session/status', { cookie: other });
    expect(await revoked.clone().json()).toEqual({ signedIn: false });
    expect(revoked.headers.getSetCookie().some((c) => /Max-Age=0/i.test(c))).toBe(true);
    expect((await sessionRow(other)).revoked_at).not.toBeNull();
  });

  it('requires a re-verification for another browser on the same network (medium risk)', async () => {
    const { cookie, user } = await signUpFrom(t, chromeOnWindows, 'ctx-browser');
    await expectError(
      from(t, firefoxOnLinuxSameNetwork, 'GET', '/auth/passkeys', { cookie }),
      403,
      'reauthentication_required',
    );
    const [event] = await eventsOf(t, user.id, 'session_suspect');
    expect(event).toMatchObject({ risk: 'medium', details: { signal: 'ua_change', action: 'step-up' } });
  });

  it('revokes the session at once under the revoke policy: 401 and the cookie cleared, for everyone', async () => {
    const strict = withPolicy({ RISK_POLICY_UA_AND_NETWORK_CHANGE: 'revoke' });
    const { cookie, user } = await signUpFrom(strict, chromeOnWindows, 'ctx-revoke');
    const response = await from(strict, attacker, 'GET', '/auth/passkeys', { cookie });
    await expectError(response.clone(), 401, 'unauthenticated');
    expect(response.headers.getSetCookie().some((c) => /Max-Age=0/i.test(c))).toBe(true);
    await expectError(from(strict, chromeOnWindows, 'GET', '/auth/passkeys', { cookie }), 401, 'unauthenticated');
    expect((await sessionRow(cookie)).revoked_at).not.toBeNull();
    const [event, ...more] = await eventsOf(t, user.id, 'session_suspect');
    expect(more).toEqual([]);
    expect(event).toMatchObject({ risk: 'high', details: { signal: 'ua_and_network_change', action: 'revoke' } });
  });

  it('records a network change alone once per new network, and keeps answering 200', async () => {
    const { cookie, user } = await signUpFrom(t, chromeOnWindows, 'ctx-network');
    for (let i = 0; i < 3; i++) await expectOk(chromeOnWindowsElsewhere, cookie);
    await expectOk(chromeOnWindows, cookie);
    await expectOk(chromeOnWindowsElsewhere, cookie);
    let events = await eventsOf(t, user.id, 'session_network_changed');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      risk: 'low',
      session_id: sessionIdOf(cookie),
      details: {
        signal: 'network_change',
        action: 'record',
        previous: { networks: ['203.0.113.0/24'] },
        current: { network: '198.51.100.0/24' },
      },
    });
    t.clock.advance(1);
    await expectOk({ ...chromeOnWindows, address: '2001:db8:7:1::5' }, cookie);
    await expectOk({ ...chromeOnWindows, address: '2001:db8:7:2::9' }, cookie);
    events = await eventsOf(t, user.id, 'session_network_changed');
    expect(events.map((e) => (e.details as any).current.network)).toEqual(['198.51.100.0/24', '2001:db8:7::/48']);
    expect((await sessionRow(cookie)).networks).toEqual(['203.0.113.0/24', '198.51.100.0/24', '2001:db8:7::/48']);
    // Not a security event for the webhook.
    expect(
      await t.database.db
        .selectFrom('event_outbox')
        .select('id')
        .where(
          'id',
          'in',
          events.map((e) => e.id),
        )
        .execute(),
    ).toEqual([]);
  });

  it('remembers at most 32 networks per session, forgetting the oldest', async () => {
    const { cookie, user } = await signUpFrom(t, chromeOnWindows, 'ctx-roaming');
    for (let i = 1; i <= 33; i++) await expectOk({ ...chromeOnWindows, address: `10.0.${i}.1` }, cookie);
    const { networks } = await sessionRow(cookie);
    expect(networks).toHaveLength(32);
    expect(networks[0]).toBe('10.0.2.0/24');
    expect(networks.at(-1)).toBe('10.0.33.0/24');
    expect(await eventsOf(t, user.id, 'session_network_changed')).toHaveLength(33);
  });

  it('can require a re-verification for a network change too', async () => {
    const strict = withPolicy({ RISK_POLICY_NETWORK_CHANGE: 'step-up' });
    const { cookie, user, authenticator } = await signUpFrom(strict, chromeOnWindows, 'ctx-network-strict');
    await expectError(
      from(strict, chromeOnWindowsElsewhere, 'GET', '/auth/passkeys', { cookie }),
      403,
      'reauthentication_required',
    );
    expect(await eventsOf(t, user.id, 'session_network_changed')).toMatchObject([
      { risk: 'low', details: { action: 'step-up' } },
    ]);
    expect((await reauthFrom(strict, chromeOnWindowsElsewhere, cookie, authenticator)).status).toBe(200);
    await expectOk(chromeOnWindowsElsewhere, cookie, strict);
    await expectOk(chromeOnWindows, cookie, strict);
  });

  it('only records a browser change under the record policy, once, and still records a new network after it', async () => {
    const lenient = withPolicy({ RISK_POLICY_UA_CHANGE: 'record', RISK_POLICY_UA_AND_NETWORK_CHANGE: 'record' });
    const { cookie, user } = await signUpFrom(lenient, chromeOnWindows, 'ctx-record');
    await expectOk(firefoxOnLinuxSameNetwork, cookie, lenient);
    await expectOk(firefoxOnLinuxSameNetwork, cookie, lenient);
    await expectOk(chromeOnWindows, cookie, lenient);
    expect(await eventsOf(t, user.id, 'session_suspect')).toMatchObject([
      { risk: 'medium', details: { signal: 'ua_change', action: 'record' } },
    ]);
    expect((await sessionRow(cookie)).suspect_at).not.toBeNull();
    await expectOk(attacker, cookie, lenient);
    await expectOk(attacker, cookie, lenient);
    expect(await eventsOf(t, user.id, 'session_suspect')).toHaveLength(1);
    expect(await eventsOf(t, user.id, 'session_network_changed')).toMatchObject([
      { details: { current: { network: '192.0.2.0/24' } } },
    ]);
  });

  it('adopts the first known network of a session created without a client address, quietly', async () => {
    const { cookie } = await t.signUp('ctx-no-address');
    expect((await sessionRow(cookie)).networks).toEqual([]);
    const events = await auditCount(t);
    // Created without a User-Agent either: the same (empty) header is the same context.
    const response = await t.app.request(
      '/auth/passkeys',
      { headers: { Cookie: cookie } },
      { incoming: { socket: { remoteAddress: '203.0.113.5' } } },
    );
    expect(response.status).toBe(200);
    expect((await sessionRow(cookie)).networks).toEqual(['203.0.113.0/24']);
    expect(await auditCount(t)).toBe(events);
  });

  it('records a concurrent burst from a new context once', async () => {
    const { cookie, user } = await signUpFrom(t, chromeOnWindows, 'ctx-burst');
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => from(t, attacker, 'GET', '/auth/passkeys', { cookie })),
    );
    expect(responses.map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
    expect(await eventsOf(t, user.id, 'session_suspect')).toHaveLength(1);
  });

  it('does not hold a new session signed in from the trusted browser while another one waits', async () => {
    const { cookie, authenticator } = await signUpFrom(t, chromeOnWindows, 'ctx-fresh');
    await from(t, attacker, 'GET', '/auth/passkeys', { cookie });
    const options = await (await from(t, chromeOnWindows, 'POST', '/auth/login/options', { body: {} })).json();
    const login = await from(t, chromeOnWindows, 'POST', '/auth/login/verify', {
      body: authenticator.getAssertion(options),
    });
    expect(login.status).toBe(200);
    await expectOk(chromeOnWindows, sessionCookieOf(login) as string);
  });
});

// The session lookup compares the request's context with the session's in SQL and brings the
// session's back only when they differ (server/sessions/repository.ts): the SQL test must agree with
// assessSessionContext, or a changed context would go unenforced.
describe('the context comparison in the session lookup', () => {
  it('returns the stored context exactly when assessSessionContext sees a change, or a step-up is pending', async () => {
    const { cookie } = await signUpFrom(t, chromeOnWindows, 'ctx-lookup');
    const id = sessionIdOf(cookie);
    const at = liveAt(t.config.session, t.clock.now());
    const lookup = (current: LookupContext | null) => findActiveSession(t.database.db, id, at, current);
    const stored = (await lookup(null))!.context!;
    expect(stored).toMatchObject({ userAgent: chromeOnWindows.userAgent, networks: ['203.0.113.0/24'] });

    // Never null when assessSessionContext sees a change (else the change would go unenforced); null
    // for the session's own context. A new User-Agent of the same browser and OS comes back too, and
    // assessSessionContext then finds nothing to do.
    const cases: Array<{ userAgent: string | null; ipAddress: string | null; same: boolean }> = [
      { userAgent: chromeOnWindows.userAgent, ipAddress: '203.0.113.9', same: true },
      { userAgent: chromeOnWindows.userAgent, ipAddress: null, same: true }, // no address: no network to compare
      { userAgent: chromeOnWindows.userAgent, ipAddress: '198.51.100.7', same: false }, // another network
      { userAgent: chromeOnWindowsUpdated.userAgent, ipAddress: '203.0.113.9', same: false }, // a browser update
      { userAgent: firefoxOnLinuxSameNetwork.userAgent, ipAddress: '203.0.113.9', same: false }, // another browser
      { userAgent: null, ipAddress: '203.0.113.9', same: false }, // none sent
      { userAgent: '', ipAddress: '203.0.113.9', same: false },
    ];
    let changes = 0;
    for (const { same, ...current } of cases) {
      const row = await lookup({ userAgent: current.userAgent ?? '', network: networkOf(current.ipAddress) });
      const change = assessSessionContext(stored, current);
      if (change !== null) changes++;
      expect({ current, returned: row!.context !== null }).toEqual({ current, returned: !same });
      if (row!.context === null) expect(change).toBeNull();
      else expect(row!.context).toEqual(stored);
    }
    expect(changes).toBeGreaterThanOrEqual(3);

    // A session that knew no network, and one with a step-up pending, always come back.
    await t.database.db.updateTable('session').set({ networks: [] }).where('id', '=', id).execute();
    expect((await lookup({ userAgent: chromeOnWindows.userAgent, network: '203.0.113.0/24' }))!.context).toMatchObject({
      networks: [],
    });
    expect((await lookup({ userAgent: chromeOnWindows.userAgent, network: null }))!.context).toBeNull();
    const stepUpAt = t.clock.now();
    await t.database.db
      .updateTable('session')
      .set({ networks: ['203.0.113.0/24'], step_up_required_at: stepUpAt })
      .where('id', '=', id)
      .execute();
    expect((await lookup({ userAgent: chromeOnWindows.userAgent, network: '203.0.113.0/24' }))!.context).toMatchObject({
      stepUpRequiredAt: stepUpAt,
    });
  });
});
