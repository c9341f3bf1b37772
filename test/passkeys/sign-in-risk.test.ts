import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { recordAuditEvent } from '../../server/audit/repository.js';
import { loadConfig } from '../../server/config.js';
import { assessSignIn } from '../../server/passkeys/sign-in-risk.js';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { checkedApp } from '../helpers/conformance.js';
import {
  attacker,
  type Client,
  chromeOnWindows,
  chromeOnWindowsElsewhere,
  eventsOf,
  expectError,
  from,
  reauthFrom,
  sessionIdOf,
  signInFrom,
  signUpFrom,
} from '../risk/helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});
// Each test starts in a fresh rate-limit window (the file's tests share client addresses).
beforeEach(() => {
  t.clock.advance(61);
});

function withPolicy(env: Record<string, string>): TestApp {
  const config = loadConfig({ ORIGIN: origin, ...env });
  return { ...t, config, app: checkedApp(createApp({ ...t.deps, config })) };
}

const sessionCount = async (userId: string) =>
  (await t.database.db.selectFrom('session').select('id').where('user_id', '=', userId).execute()).length;

describe('sign-in signals', () => {
  it('a sign-in from a known browser and network has no signal and no notice', async () => {
    const { user, authenticator } = await signUpFrom(t, chromeOnWindows, 'in-known');
    const response = await signInFrom(t, { ...chromeOnWindows, address: '203.0.113.44' }, authenticator);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ user: { id: user.id, username: 'in-known', displayName: 'in-known' } });
    const [event] = await eventsOf(t, user.id, 'login_succeeded');
    expect(event).toMatchObject({
      risk: null,
      details: { signals: [], action: 'record', newDevice: false, newNetwork: false, stepUpRequired: false },
    });
  });

  it('records a sign-in from a new network with low risk and tells the client', async () => {
    const { user, authenticator } = await signUpFrom(t, chromeOnWindows, 'in-network');
    const response = await signInFrom(t, chromeOnWindowsElsewhere, authenticator);
    expect(response.status).toBe(200);
    expect((await response.json()).notice).toEqual({
      newDevice: false,
      newNetwork: true,
      device: { browser: 'Chrome', os: 'Windows' },
      risk: 'low',
      signals: ['new_network'],
      stepUpRequired: false,
    });
    const [event] = await eventsOf(t, user.id, 'login_succeeded');
    expect(event).toMatchObject({
      risk: 'low',
      details: { signals: ['new_network'], network: '198.51.100.0/24', newNetwork: true },
    });
    // The webhook's session.created carries the risk.
    const outbox = await t.database.db
      .selectFrom('event_outbox')
      .select(['type', 'body'])
      .where('id', '=', event!.id)
      .executeTakeFirstOrThrow();
    expect(outbox.type).toBe('session.created');
    expect(JSON.parse(outbox.body).data).toMatchObject({ risk: 'low', details: { newNetwork: true } });
    // Once seen, the network is no longer new.
    t.clock.advance(61);
    expect((await (await signInFrom(t, chromeOnWindowsElsewhere, authenticator)).json()).notice).toBeUndefined();
  });

  it('marks a sign-in from a new device on a new network medium, and the user’s other sessions see it in their activity', async () => {
    const { cookie, user, authenticator } = await signUpFrom(t, chromeOnWindows, 'in-device');
    const response = await signInFrom(t, attacker, authenticator);
    expect(response.status).toBe(200);
    const { notice } = await response.json();
    expect(notice).toMatchObject({
      newDevice: true,
      newNetwork: true,
      device: { browser: 'Firefox', os: 'Linux' },
      risk: 'medium',
    });
    const newSession = sessionIdOf(sessionCookieOf(response) as string);

    const { events } = await (await from(t, chromeOnWindows, 'GET', '/auth/activity', { cookie })).json();
    const newDeviceSignIns = events.filter(
      (e: any) => e.type === 'login_succeeded' && e.details.newDevice === true && e.sessionId !== sessionIdOf(cookie),
    );
    expect(newDeviceSignIns).toMatchObject([
      { sessionId: newSession, risk: 'medium', details: { device: { browser: 'Firefox', os: 'Linux' } } },
    ]);
    expect(await eventsOf(t, user.id, 'login_succeeded')).toHaveLength(1);
  });

  it('creates the session with a re-verification required under the step-up policy', async () => {
    const strict = withPolicy({ RISK_POLICY_SIGNIN_NEW_NETWORK: 'step-up' });
    const { authenticator } = await signUpFrom(strict, chromeOnWindows, 'in-step-up');
    const response = await signInFrom(strict, chromeOnWindowsElsewhere, authenticator);
    expect(response.status).toBe(200);
    expect((await response.json()).notice).toMatchObject({ newNetwork: true, stepUpRequired: true });
    const cookie = sessionCookieOf(response) as string;
    await expectError(
      from(strict, chromeOnWindowsElsewhere, 'GET', '/auth/passkeys', { cookie }),
      403,
      'reauthentication_required',
    );
    expect(
      (await (await from(strict, chromeOnWindowsElsewhere, 'GET', '/auth/session', { cookie })).json()).session
        .stepUpRequired,
    ).toBe(true);
    expect((await reauthFrom(strict, chromeOnWindowsElsewhere, cookie, authenticator)).status).toBe(200);
    expect((await from(strict, chromeOnWindowsElsewhere, 'GET', '/auth/passkeys', { cookie })).status).toBe(200);
  });

  it('refuses a sign-in from a new network under the refuse policy: 401 verification_failed, no session, an event', async () => {
    const strict = withPolicy({ RISK_POLICY_SIGNIN_NEW_NETWORK: 'refuse' });
    const { user, authenticator } = await signUpFrom(strict, chromeOnWindows, 'in-refuse');
    const response = await signInFrom(strict, chromeOnWindowsElsewhere, authenticator);
    await expectError(response.clone(), 401, 'verification_failed');
    expect(sessionCookieOf(response)).toBeNull();
    expect(await sessionCount(user.id)).toBe(1);
    expect(await eventsOf(t, user.id, 'login_refused')).toMatchObject([
      { actor: 'system', risk: 'low', details: { signals: ['new_network'], action: 'refuse' } },
    ]);
    // Refusals are not failures: they do not feed the failure counters.
    expect(await eventsOf(t, user.id, 'login_failed')).toEqual([]);
    // From the known network it still works.
    expect((await signInFrom(strict, chromeOnWindows, authenticator)).status).toBe(200);
  });

  it('marks a sign-in after a burst of failures for the account high, and refuses it with 429 under the refuse policy', async () => {
    const policy = { RISK_SIGNIN_ACCOUNT_FAILURES: '3' };
    const lenient = withPolicy(policy);
    const strict = withPolicy({ ...policy, RISK_POLICY_SIGNIN_FAILURES: 'refuse' });
    const { user, authenticator } = await signUpFrom(t, chromeOnWindows, 'in-failures');
    for (let i = 0; i < 3; i++)
      await expectError(
        signInFrom(lenient, chromeOnWindows, authenticator, { corruptSignature: true }),
        401,
        'verification_failed',
      );
    expect(await eventsOf(t, user.id, 'login_failed')).toHaveLength(3);

    const refused = await signInFrom(strict, chromeOnWindows, authenticator);
    await expectError(refused.clone(), 429, 'rate_limited');
    expect(refused.headers.get('retry-after')).toBe('900');
    expect(await eventsOf(t, user.id, 'login_refused')).toMatchObject([
      { risk: 'high', details: { signals: ['account_failures'], failures: { account: 3 } } },
    ]);

    const recorded = await signInFrom(lenient, chromeOnWindows, authenticator);
    expect(recorded.status).toBe(200);
    expect((await recorded.json()).notice).toMatchObject({
      risk: 'high',
      signals: ['account_failures'],
      stepUpRequired: false,
    });
    const signIns = await eventsOf(t, user.id, 'login_succeeded');
    expect(signIns.at(-1)).toMatchObject({ risk: 'high', details: { signals: ['account_failures'] } });

    // Once the window has passed, the failures no longer count.
    t.clock.advance(900);
    const later = await signInFrom(strict, chromeOnWindows, authenticator);
    expect(later.status).toBe(200);
    expect((await later.json()).notice).toBeUndefined();
  });

  it('requires a re-verification after a burst of failures from the network, whichever accounts they named', async () => {
    const strict = withPolicy({ RISK_SIGNIN_NETWORK_FAILURES: '3', RISK_POLICY_SIGNIN_FAILURES: 'step-up' });
    const home: Client = { ...chromeOnWindows, address: '100.64.5.1' };
    const victim = await signUpFrom(t, home, 'in-net-victim');
    const prober = await signUpFrom(t, { ...chromeOnWindows, address: '100.65.0.1' }, 'in-net-prober');
    for (const address of ['100.64.5.20', '100.64.5.21', '::ffff:100.64.5.22']) {
      await expectError(
        signInFrom(strict, { ...chromeOnWindows, address }, prober.authenticator, { corruptSignature: true }),
        401,
        'verification_failed',
      );
    }
    // Another network's failures do not count.
    await expectError(
      signInFrom(strict, { ...chromeOnWindows, address: '100.64.6.1' }, prober.authenticator, {
        corruptSignature: true,
      }),
      401,
      'verification_failed',
    );

    const response = await signInFrom(strict, { ...home, address: '100.64.5.30' }, victim.authenticator);
    expect(response.status).toBe(200);
    expect((await response.json()).notice).toMatchObject({
      risk: 'medium',
      signals: ['network_failures'],
      stepUpRequired: true,
    });
    const [event] = await eventsOf(t, victim.user.id, 'login_succeeded');
    expect(event).toMatchObject({
      risk: 'medium',
      details: { failures: { account: 0, network: 3 }, stepUpRequired: true },
    });
    await expectError(
      from(strict, home, 'GET', '/auth/passkeys', { cookie: sessionCookieOf(response) as string }),
      403,
      'reauthentication_required',
    );
  });

  it('counts an IPv6 network’s failures whatever the spelling of the addresses', async () => {
    const userId = randomUUID();
    const now = t.clock.now();
    for (const ipAddress of [
      '2001:db8:5:1::1',
      '2001:0DB8:0005:2::2',
      '2001:db8:5::3',
      '2001:db8:6::1',
      '2001:db9:5::1',
    ]) {
      await recordAuditEvent(
        t.deps.db,
        { type: 'login_failed', userId: null, reason: 'unknown_credential', ipAddress },
        now,
      );
    }
    const config = loadConfig({ ORIGIN: origin, RISK_SIGNIN_NETWORK_FAILURES: '3' });
    const assessment = await assessSignIn(
      { db: t.deps.db, config },
      { userId, context: { userAgent: null, ipAddress: '2001:db8:5:ffff::9' } },
      now,
    );
    expect(assessment).toMatchObject({
      network: '2001:db8:5::/48',
      failures: { account: 0, network: 3 },
      signals: ['network_failures'],
      risk: 'medium',
    });
  });

  it('shows a passkey whose counter went backwards in the activity with high risk', async () => {
    const { cookie, authenticator } = await signUpFrom(t, chromeOnWindows, 'in-counter');
    expect((await signInFrom(t, chromeOnWindows, authenticator)).status).toBe(200);
    await expectError(signInFrom(t, chromeOnWindows, authenticator, { signCount: 1 }), 401, 'verification_failed');
    const { events } = await (await from(t, chromeOnWindows, 'GET', '/auth/activity', { cookie })).json();
    expect(events.find((e: any) => e.type === 'counter_regression')).toMatchObject({ risk: 'high', actor: 'system' });
  });
});
