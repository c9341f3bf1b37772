import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { createLogger } from '../../server/logger.js';
import { createTestApp, origin, sessionCookieOf, type TestApp } from '../helpers/app.js';
import { base64urlDecode, createSoftwareAuthenticator } from '../helpers/authenticator.js';
import { checkedApp } from '../helpers/conformance.js';

let t: TestApp;
const lines: string[] = [];
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  t = await createTestApp();
  // The production logger (with its redactions) at debug level, writing into memory.
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
  app = checkedApp(createApp({ ...t.deps, logger }));
});
afterAll(async () => {
  await t?.close();
});

const secrets = new Map<string, string>();
/** Remembers a secret value under every spelling a log could carry it in. */
function secret(name: string, value: string | Uint8Array) {
  const bytes = typeof value === 'string' ? null : Buffer.from(value);
  if (typeof value === 'string') {
    secrets.set(name, value);
    if (/^[A-Za-z0-9_-]+$/.test(value) && value.length >= 16) {
      const decoded = Buffer.from(base64urlDecode(value));
      secrets.set(`${name} (base64)`, decoded.toString('base64').replace(/=+$/, ''));
      secrets.set(`${name} (hex)`, decoded.toString('hex'));
    }
  } else if (bytes) {
    secrets.set(`${name} (base64url)`, bytes.toString('base64url'));
    secrets.set(`${name} (base64)`, bytes.toString('base64').replace(/=+$/, ''));
    secrets.set(`${name} (hex)`, bytes.toString('hex'));
  }
}

function call(method: string, path: string, body?: unknown, cookie?: string | null) {
  const headers: Record<string, string> = { Origin: origin, 'User-Agent': 'log-test' };
  if (cookie) headers.Cookie = cookie;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return Promise.resolve(
    app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
  );
}

function tokenOf(cookie: string) {
  const token = cookie.slice(cookie.indexOf('=') + 1);
  secret('session token', token);
  secret('session secret', token.split('.')[1]!);
  return token;
}

describe('logs', () => {
  it('carry no cookie, token, secret, challenge, public key or recovery code through a full session', async () => {
    const authenticator = createSoftwareAuthenticator({ origin });

    // Sign-up.
    const regOptions = await (await call('POST', '/auth/register/options', { username: 'log-watcher' })).json();
    secret('registration challenge', regOptions.challenge);
    secret('user handle', regOptions.user.id);
    const registration = authenticator.createCredential(regOptions);
    secret('public key (SPKI)', registration.response.publicKey!);
    secret('public key (COSE)', authenticator.credentials[0]!.cosePublicKey);
    secret('attestation object', registration.response.attestationObject);
    secret('client data', registration.response.clientDataJSON);
    const registered = await call('POST', '/auth/register/verify', registration);
    expect(registered.status).toBe(201);
    let cookie = sessionCookieOf(registered)!;
    tokenOf(cookie);

    // A failed registration and a failed sign-in, whose library errors get logged.
    const badOptions = await (await call('POST', '/auth/register/options', { username: 'log-watcher-2' })).json();
    secret('failed registration challenge', badOptions.challenge);
    const badRegistration = createSoftwareAuthenticator({ origin }).createCredential(badOptions, {
      rpId: 'evil.example',
    });
    expect((await call('POST', '/auth/register/verify', badRegistration)).status).toBe(400);
    const failOptions = await (await call('POST', '/auth/login/options', {})).json();
    secret('failed login challenge', failOptions.challenge);
    const badAssertion = authenticator.getAssertion(failOptions, { corruptSignature: true });
    secret('bad signature', badAssertion.response.signature);
    expect((await call('POST', '/auth/login/verify', badAssertion)).status).toBe(401);

    // Session, sign-in.
    expect((await call('GET', '/auth/session', undefined, cookie)).status).toBe(200);
    const loginOptions = await (await call('POST', '/auth/login/options', {})).json();
    secret('login challenge', loginOptions.challenge);
    const assertion = authenticator.getAssertion(loginOptions);
    secret('signature', assertion.response.signature);
    secret('assertion client data', assertion.response.clientDataJSON);
    const signedIn = await call('POST', '/auth/login/verify', assertion);
    expect(signedIn.status).toBe(200);
    cookie = sessionCookieOf(signedIn)!;
    tokenOf(cookie);

    // An access token.
    const minted = await call('POST', '/auth/token', {}, cookie);
    expect(minted.status).toBe(200);
    const { access_token: accessToken } = await minted.json();
    secrets.set('access token', accessToken);
    secrets.set('access token signature', accessToken.split('.')[2]);
    const rotated = sessionCookieOf(minted);
    if (rotated) cookie = rotated;
    tokenOf(cookie);

    // Recovery codes: created, one wrong and one right use.
    const created = await call('POST', '/auth/recovery-codes', {}, cookie);
    expect(created.status).toBe(201);
    const { codes } = (await created.json()) as { codes: string[] };
    codes.forEach((code, i) => secrets.set(`recovery code ${i}`, code));
    expect(
      (await call('POST', '/auth/recover', { username: 'log-watcher', code: 'WRONG-CODE-0000' })).status,
    ).toBeGreaterThanOrEqual(400);
    const recovered = await call('POST', '/auth/recover', { username: 'log-watcher', code: codes[0] });
    expect(recovered.status).toBe(200);
    tokenOf(sessionCookieOf(recovered)!);

    // Sign-out.
    expect((await call('POST', '/auth/logout', {}, cookie)).status).toBe(204);

    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(10);
    for (const [name, value] of secrets) {
      expect(value.length, name).toBeGreaterThanOrEqual(8);
      expect(text.includes(value), `the logs contain the ${name}`).toBe(false);
    }
    expect(text).not.toMatch(/__Host-session/);
  });

  it('write one JSON line per request with request id, method, path, status and duration', () => {
    const requests = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === 'request');
    expect(requests.length).toBe(14);
    for (const entry of requests) {
      expect(entry).toMatchObject({
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        method: expect.stringMatching(/^(GET|POST)$/),
        path: expect.stringMatching(/^\//),
        status: expect.any(Number),
        durationMs: expect.any(Number),
      });
    }
    expect(requests.map((entry) => entry.status)).toEqual(expect.arrayContaining([200, 201, 204, 400, 401]));
  });
});
