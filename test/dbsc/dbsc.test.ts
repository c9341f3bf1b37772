import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDbscClient,
  type DbscClient,
  generateDbscKey,
  parseRegistrationHeader,
  signDbscProof,
} from '../../server/testing/index.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';
import { auditTypes, sessionIdOf } from '../helpers/lifecycle.js';

const sessionCookie = '__Host-session';
const boundCookie = '__Host-dbsc';
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ DBSC: 'on' });
});
afterAll(async () => {
  await t?.close();
});

function clientFor(app: TestApp = t): DbscClient {
  return createDbscClient({
    fetch: (path, init) => app.app.request(path, init),
    now: () => app.clock.now(),
    headers: { Origin: origin },
  });
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
});

/** Signs up through `client` (which registers the DBSC session offered with the response). */
async function signUp(client: DbscClient, username: string, authenticator = createSoftwareAuthenticator({ origin })) {
  const options = await client.send('/auth/register/options', json({ username }));
  const verify = await client.send('/auth/register/verify', json(authenticator.createCredential(await options.json())));
  expect(verify.status).toBe(201);
  return {
    authenticator,
    user: (await verify.json()).user as { id: string },
    offer: verify.headers.get('secure-session-registration'),
  };
}

const cookie = (client: DbscClient, ...names: string[]) =>
  names.map((name) => `${name}=${client.jar.get(name)!.value}`).join('; ');
const only = (client: DbscClient) => [...client.sessions.keys()][0]!;

describe('registration', () => {
  it('offers registration on sign-in, and a DBSC client binds the session to its key', async () => {
    const client = clientFor();
    const { user, offer } = await signUp(client, 'bound-ann');
    expect(parseRegistrationHeader(offer!)).toMatchObject({ algorithms: ['ES256'], path: '/auth/dbsc/register' });
    expect(client.sessions.size).toBe(1);
    const id = only(client);
    expect(id).toBe(sessionIdOf(cookie(client, sessionCookie)));
    expect(client.jar.get(boundCookie)).toBeDefined();
    expect((await client.send('/auth/session')).status).toBe(200);
    expect(await auditTypes(t, user.id)).toContain('session_device_bound');
    const row = await t.database.db
      .selectFrom('session')
      .select(['dbsc_public_key'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.dbsc_public_key!)).toMatchObject({ kty: 'EC', crv: 'P-256' });
  });

  it('answers the registration with the session instructions and the bound cookie', async () => {
    const client = clientFor();
    const options = await client.send('/auth/register/options', json({ username: 'manual-reg' }));
    // Through the raw app, to see the exchange itself.
    const verify = await t.app.request('/auth/register/verify', {
      ...json(createSoftwareAuthenticator({ origin }).createCredential(await options.json())),
      headers: { 'Content-Type': 'application/json', Origin: origin, Cookie: client.cookieHeader() },
    });
    const offer = parseRegistrationHeader(verify.headers.get('secure-session-registration')!)!;
    const longCookie = verify.headers.getSetCookie()[0]!.split(';')[0]!;
    const key = await generateDbscKey();
    const proof = await signDbscProof(
      key,
      { jti: offer.challenge!, authorization: offer.authorization! },
      { includeJwk: true },
    );
    const response = await t.app.request(offer.path, {
      method: 'POST',
      headers: { Cookie: longCookie, 'Secure-Session-Response': `"${proof}"` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      session_identifier: sessionIdOf(longCookie),
      refresh_url: '/auth/dbsc/refresh',
      scope: { origin: '', include_site: false, scope_specification: [] },
      credentials: [{ type: 'cookie', name: boundCookie, attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax' }],
    });
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${boundCookie}=`))!;
    expect(setCookie).toMatch(/Max-Age=600/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    // The challenge was single-use: the same proof again does not bind anything.
    const again = await t.app.request(offer.path, {
      method: 'POST',
      headers: { Cookie: longCookie, 'Secure-Session-Response': proof },
    });
    expect(again.status).toBe(400);
  });

  it('refuses a registration with a wrong challenge, a wrong authorization, a key that did not sign, or no session', async () => {
    const client = createDbscClient({
      fetch: (path, init) => t.app.request(path, init),
      now: () => t.clock.now(),
      headers: { Origin: origin },
    });
    const options = await client.send('/auth/register/options', json({ username: 'reg-negative' }));
    const verify = await t.app.request('/auth/register/verify', {
      ...json(createSoftwareAuthenticator({ origin }).createCredential(await options.json())),
      headers: { 'Content-Type': 'application/json', Origin: origin, Cookie: client.cookieHeader() },
    });
    const offer = parseRegistrationHeader(verify.headers.get('secure-session-registration')!)!;
    const longCookie = verify.headers.getSetCookie()[0]!.split(';')[0]!;
    const key = await generateDbscKey();
    const other = await generateDbscKey();
    const post = (proof: string, cookieHeader: string | null = longCookie) =>
      t.app.request(offer.path, {
        method: 'POST',
        headers: { ...(cookieHeader ? { Cookie: cookieHeader } : {}), 'Secure-Session-Response': `"${proof}"` },
      });
    const codeOf = async (r: Response) => ({ status: r.status, code: (await r.json()).error.code });

    expect(
      await codeOf(
        await post(
          await signDbscProof(
            key,
            { jti: 'not-the-challenge', authorization: offer.authorization! },
            { includeJwk: true },
          ),
        ),
      ),
    ).toEqual({ status: 400, code: 'invalid_challenge' });
    expect(
      await codeOf(
        await post(await signDbscProof(key, { jti: offer.challenge!, authorization: 'forged' }, { includeJwk: true })),
      ),
    ).toEqual({ status: 400, code: 'invalid_challenge' });
    // Signed by one key while claiming another in `jwk`: no proof of possession.
    const mismatched = await signDbscProof(
      { privateKey: other.privateKey, publicJwk: key.publicJwk },
      { jti: offer.challenge!, authorization: offer.authorization! },
      { includeJwk: true },
    );
    expect(await codeOf(await post(mismatched))).toEqual({ status: 400, code: 'verification_failed' });
    expect(
      await codeOf(await post(await signDbscProof(key, { jti: offer.challenge! }, { includeJwk: false }))),
    ).toEqual({ status: 400, code: 'verification_failed' });
    expect(
      await codeOf(
        await post(
          await signDbscProof(
            key,
            { jti: offer.challenge!, authorization: offer.authorization! },
            { includeJwk: true },
          ),
          null,
        ),
      ),
    ).toEqual({ status: 401, code: 'unauthenticated' });
    expect(
      await codeOf(
        await t.app.request(offer.path, {
          method: 'POST',
          headers: { Cookie: longCookie, 'Secure-Session-Response': 'garbage' },
        }),
      ),
    ).toEqual({ status: 400, code: 'invalid_request' });
    // None of these bound the session: it still works with the session cookie alone.
    expect((await t.get('/auth/session', longCookie)).status).toBe(200);
    // The genuine proof still binds it, once.
    expect(
      (
        await post(
          await signDbscProof(
            key,
            { jti: offer.challenge!, authorization: offer.authorization! },
            { includeJwk: true },
          ),
        )
      ).status,
    ).toBe(200);
    expect((await t.get('/auth/session', longCookie)).status).toBe(401);
  });

  it('keeps today’s behaviour for a browser without DBSC: the session cookie alone works', async () => {
    const { cookie: plain } = await t.signUp('no-dbsc-browser');
    t.clock.advance(3600);
    expect((await t.get('/auth/session', plain)).status).toBe(200);
    expect((await t.post('/auth/token', {}, plain)).status).toBe(200);
  });
});

describe('a bound session', () => {
  let client: DbscClient;
  let authenticator: SoftwareAuthenticator;
  beforeAll(async () => {
    client = clientFor();
    ({ authenticator } = await signUp(client, 'bound-bob'));
  });

  it('refuses the stolen long-lived cookie without the bound cookie, and keeps working for its device', async () => {
    const stolen = cookie(client, sessionCookie);
    const thief = await t.get('/auth/session', stolen);
    expect(thief.status).toBe(401);
    expect((await t.post('/auth/token', {}, stolen)).status).toBe(401);
    // The refusal does not clear the session cookie (the device needs it for its refresh).
    expect(thief.headers.getSetCookie().some((c) => c.startsWith(`${sessionCookie}=`))).toBe(false);
    // Nor does the refresh endpoint hand a cookie to someone without the key.
    const challenge = await t.app.request('/auth/dbsc/refresh', {
      method: 'POST',
      headers: { Cookie: stolen, 'Sec-Secure-Session-Id': `"${only(client)}"` },
    });
    expect(challenge.status).toBe(403);
    expect(challenge.headers.get('secure-session-challenge')).toMatch(/^"[A-Za-z0-9_-]+";id="[A-Za-z0-9_-]+"$/);
    expect(challenge.headers.getSetCookie()).toEqual([]);
    expect((await client.send('/auth/session')).status).toBe(200);
  });

  it('refreshes with a signed challenge when the bound cookie expires', async () => {
    const before = client.jar.get(boundCookie)!.value;
    t.clock.advance(601);
    const response = await client.send('/auth/session');
    expect(response.status).toBe(200);
    expect(client.jar.get(boundCookie)!.value).not.toBe(before);
    expect((await client.send('/auth/token', json({}))).status).toBe(200);
  });

  it('lets a stolen short-lived cookie work only until its expiry', async () => {
    const stolen = cookie(client, sessionCookie, boundCookie);
    expect((await t.get('/auth/session', stolen)).status).toBe(200);
    t.clock.advance(601);
    expect((await t.get('/auth/session', stolen)).status).toBe(401);
    expect((await client.send('/auth/session')).status).toBe(200);
  });

  it('refuses a refresh signed with another key, and burns its challenge', async () => {
    const id = only(client);
    const response = await client.refresh(id, { key: await generateDbscKey() });
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('verification_failed');
    // A proof for the burnt challenge, even with the right key, is refused too.
    t.clock.advance(601);
    expect((await t.get('/auth/session', cookie(client, sessionCookie))).status).toBe(401);
    expect((await client.send('/auth/session')).status).toBe(200);
  });

  it('refuses a refresh for another session id than the cookie’s, and an unsigned or garbled one', async () => {
    const stranger = await t.app.request('/auth/dbsc/refresh', {
      method: 'POST',
      headers: { Cookie: client.cookieHeader(), 'Sec-Secure-Session-Id': '"someone-else"' },
    });
    expect(await stranger.json()).toEqual({ continue: false });
    const missing = await t.app.request('/auth/dbsc/refresh', {
      method: 'POST',
      headers: { Cookie: client.cookieHeader() },
    });
    expect(missing.status).toBe(400);
  });

  it('is cut off at once by revocation, and the refresh then ends the DBSC session', async () => {
    const other = clientFor();
    const signIn = await other.send('/auth/login/options', json({}));
    const verified = await other.send('/auth/login/verify', json(authenticator.getAssertion(await signIn.json())));
    expect(verified.status).toBe(200);
    const id = only(client);
    expect((await other.send(`/auth/sessions/${id}`, { method: 'DELETE' })).status).toBe(204);
    // The bound cookie is still fresh, but the session is gone.
    expect(client.jar.get(boundCookie)).toBeDefined();
    expect((await client.send('/auth/session')).status).toBe(401);
    const refresh = await client.refresh(id);
    expect(refresh.status).toBe(200);
    expect(client.sessions.size).toBe(0);
  });
});

describe('with DBSC off (the default)', () => {
  it('offers nothing and has no DBSC endpoints', async () => {
    const plain = await createTestApp();
    try {
      const client = clientFor(plain);
      const options = await client.send('/auth/register/options', json({ username: 'plain' }));
      const verify = await client.send(
        '/auth/register/verify',
        json(createSoftwareAuthenticator({ origin }).createCredential(await options.json())),
      );
      expect(verify.headers.get('secure-session-registration')).toBeNull();
      expect(client.sessions.size).toBe(0);
      expect((await plain.app.request('/auth/dbsc/register', { method: 'POST' })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
