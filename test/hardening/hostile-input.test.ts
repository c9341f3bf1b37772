import { randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { base64urlEncode, createSoftwareAuthenticator, type SoftwareAuthenticator } from '../helpers/authenticator.js';
import {
  attestationObject,
  authDataOf,
  authDataWithAlgorithm,
  clientData,
  concat,
  raw,
  standardBase64,
  withAttestation,
  withResponse,
} from './hostile-helpers.js';

let t: TestApp;
let alice: { cookie: string; user: { id: string }; authenticator: SoftwareAuthenticator };
let bob: { cookie: string; user: { id: string }; authenticator: SoftwareAuthenticator };
beforeAll(async () => {
  t = await createTestApp();
  alice = await t.signUp('alice-hostile');
  bob = await t.signUp('bob-hostile');
});
afterAll(async () => {
  await t?.close();
});
// Each case gets a fresh rate-limit window, so cases never see each other's counters.
beforeEach(() => t.clock.advance(61));

let counter = 0;
async function registration(): Promise<{
  response: RegistrationResponseJSON;
  authenticator: SoftwareAuthenticator;
  options: any;
}> {
  const options = await (await t.post('/auth/register/options', { username: `hostile-${++counter}` })).json();
  const authenticator = createSoftwareAuthenticator({ origin });
  return { response: authenticator.createCredential(options), authenticator, options };
}
async function registrationOptions() {
  return (await t.post('/auth/register/options', { username: `hostile-${++counter}` })).json();
}
async function loginOptions() {
  return (await t.post('/auth/login/options', {})).json();
}
async function assertion(
  overrides?: Parameters<SoftwareAuthenticator['getAssertion']>[1],
): Promise<AuthenticationResponseJSON> {
  return alice.authenticator.getAssertion(await loginOptions(), overrides);
}
const registerVerify = (body: unknown) => t.post('/auth/register/verify', body);
const loginVerify = (body: unknown) => t.post('/auth/login/verify', body);
const json = (value: unknown) => JSON.stringify(value);
const aliceToken = () => alice.cookie.slice(alice.cookie.indexOf('=') + 1);

type Case = [name: string, run: () => Promise<Response>, status: number, code: string];

const bodyCases: Case[] = [
  [
    'malformed JSON on register options',
    () => raw(t, 'POST', '/auth/register/options', { body: '{"username": "x",}' }),
    400,
    'invalid_request',
  ],
  [
    'truncated JSON on register options',
    () => raw(t, 'POST', '/auth/register/options', { body: '{"username": "trunc' }),
    400,
    'invalid_request',
  ],
  [
    'truncated JSON on login verify',
    () => raw(t, 'POST', '/auth/login/verify', { body: '{"id":"abc","rawId":' }),
    400,
    'invalid_request',
  ],
  ['a lone brace on logout', () => raw(t, 'POST', '/auth/logout', { body: '{' }), 400, 'invalid_request'],
  [
    'invalid UTF-8 bytes',
    () => raw(t, 'POST', '/auth/register/options', { body: Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d) }),
    400,
    'invalid_request',
  ],
  [
    'null body on register options',
    () => raw(t, 'POST', '/auth/register/options', { body: 'null' }),
    400,
    'invalid_request',
  ],
  ['null body on login options', () => raw(t, 'POST', '/auth/login/options', { body: 'null' }), 400, 'invalid_request'],
  [
    'null body on register verify',
    () => raw(t, 'POST', '/auth/register/verify', { body: 'null' }),
    400,
    'invalid_request',
  ],
  ['null body on login verify', () => raw(t, 'POST', '/auth/login/verify', { body: 'null' }), 400, 'invalid_request'],
  ['array body on login options', () => raw(t, 'POST', '/auth/login/options', { body: '[]' }), 400, 'invalid_request'],
  [
    'array body on register verify',
    () => raw(t, 'POST', '/auth/register/verify', { body: '[{"id":"AAAA"}]' }),
    400,
    'invalid_request',
  ],
  [
    'number body on register options',
    () => raw(t, 'POST', '/auth/register/options', { body: '42' }),
    400,
    'invalid_request',
  ],
  [
    'number body on login verify',
    () => raw(t, 'POST', '/auth/login/verify', { body: '1e999' }),
    400,
    'invalid_request',
  ],
  [
    'string body on login verify',
    () => raw(t, 'POST', '/auth/login/verify', { body: '"hello"' }),
    400,
    'invalid_request',
  ],
  [
    'boolean body on token',
    () => raw(t, 'POST', '/auth/token', { body: 'true', cookie: alice.cookie }),
    400,
    'invalid_request',
  ],
  [
    '__proto__ key on register options',
    () => raw(t, 'POST', '/auth/register/options', { body: '{"username":"protouser","__proto__":{"admin":true}}' }),
    400,
    'invalid_request',
  ],
  [
    'nested constructor.prototype keys on login verify',
    () => raw(t, 'POST', '/auth/login/verify', { body: '{"response":{"constructor":{"prototype":{"x":1}}}}' }),
    400,
    'invalid_request',
  ],
  [
    'JSON nested 200 levels deep',
    () => raw(t, 'POST', '/auth/login/options', { body: '['.repeat(200) + ']'.repeat(200) }),
    400,
    'invalid_request',
  ],
  [
    'a body of 70 KiB',
    () => raw(t, 'POST', '/auth/register/options', { body: json({ username: 'x'.repeat(70 * 1024) }) }),
    413,
    'payload_too_large',
  ],
  [
    'text/plain instead of JSON',
    () => raw(t, 'POST', '/auth/login/options', { body: '{}', headers: { 'Content-Type': 'text/plain' } }),
    415,
    'unsupported_media_type',
  ],
  [
    'form encoding instead of JSON',
    () =>
      raw(t, 'POST', '/auth/register/options', {
        body: 'username=x',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      }),
    415,
    'unsupported_media_type',
  ],
  [
    'no Origin and no Sec-Fetch-Site',
    () =>
      Promise.resolve(
        t.app.request('/auth/login/options', {
          method: 'POST',
          body: '{}',
          headers: { 'Content-Type': 'application/json' },
        }),
      ),
    403,
    'csrf',
  ],
  [
    'an Origin that differs only by port',
    () => raw(t, 'POST', '/auth/login/options', { body: '{}', headers: { Origin: 'http://localhost:3001' } }),
    403,
    'csrf',
  ],
  [
    'Sec-Fetch-Site: cross-site with our Origin',
    () =>
      raw(t, 'POST', '/auth/logout', { body: '{}', headers: { 'Sec-Fetch-Site': 'cross-site' }, cookie: alice.cookie }),
    403,
    'csrf',
  ],
];

const usernameCases: Case[] = [
  [
    'a 10 000-character username',
    () => t.post('/auth/register/options', { username: 'a'.repeat(10_000) }),
    400,
    'invalid_request',
  ],
  [
    'a 10 000-character display name',
    () => t.post('/auth/register/options', { username: 'longname', displayName: 'd'.repeat(10_000) }),
    400,
    'invalid_request',
  ],
  [
    'a username with NUL',
    () => t.post('/auth/register/options', { username: 'nul\u0000user' }),
    400,
    'invalid_request',
  ],
  [
    'a username with a bell character',
    () => t.post('/auth/register/options', { username: 'bell\u0007user' }),
    400,
    'invalid_request',
  ],
  [
    'a username with a newline',
    () => t.post('/auth/register/options', { username: 'line\nbreak' }),
    400,
    'invalid_request',
  ],
  [
    'a username with DEL',
    () => t.post('/auth/register/options', { username: 'del\u007fuser' }),
    400,
    'invalid_request',
  ],
  [
    'a username with a C1 control character',
    () => t.post('/auth/register/options', { username: 'c1\u0085user' }),
    400,
    'invalid_request',
  ],
  ['a username of two characters', () => t.post('/auth/register/options', { username: 'ab' }), 400, 'invalid_request'],
  ['a username that is a number', () => t.post('/auth/register/options', { username: 12345 }), 400, 'invalid_request'],
  [
    'a username that is an array',
    () => t.post('/auth/register/options', { username: ['alice'] }),
    400,
    'invalid_request',
  ],
  [
    'a username that is an object',
    () => t.post('/auth/register/options', { username: { toString: 'alice' } }),
    400,
    'invalid_request',
  ],
  ['a username that is null', () => t.post('/auth/register/options', { username: null }), 400, 'invalid_request'],
  ['no username at all', () => t.post('/auth/register/options', {}), 400, 'invalid_request'],
  [
    'a display name that is a number',
    () => t.post('/auth/register/options', { username: 'numdisplay', displayName: 7 }),
    400,
    'invalid_request',
  ],
  ['a login username that is a number', () => t.post('/auth/login/options', { username: 99 }), 400, 'invalid_request'],
  [
    'a username that exists already',
    () => t.post('/auth/register/options', { username: 'ALICE-hostile' }),
    409,
    'username_taken',
  ],
];

const registrationCases: Case[] = [
  [
    'id different from rawId (registration)',
    async () => {
      const { response } = await registration();
      return registerVerify({ ...response, id: base64urlEncode(randomBytes(16)) });
    },
    400,
    'invalid_request',
  ],
  [
    'a credential ID in base64 instead of base64url (registration)',
    async () => {
      const { response } = await registration();
      const id = standardBase64(response.id);
      expect(id).toMatch(/[+/=]/);
      return registerVerify({ ...response, id, rawId: id });
    },
    400,
    'invalid_request',
  ],
  [
    'clientDataJSON in padded base64 (registration)',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withResponse(response, { clientDataJSON: `${standardBase64(response.response.clientDataJSON)}==` }),
      );
    },
    400,
    'invalid_request',
  ],
  [
    'attestationObject in base64 with + and / (registration)',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { attestationObject: `${response.response.attestationObject}+/` }));
    },
    400,
    'invalid_request',
  ],
  [
    'a 1024-byte credential ID is refused',
    async () => {
      const { response } = await registration();
      const id = base64urlEncode(randomBytes(1024));
      return registerVerify({ ...response, id, rawId: id });
    },
    400,
    'invalid_request',
  ],
  [
    'type other than public-key',
    async () => {
      const { response } = await registration();
      return registerVerify({ ...response, type: 'private-key' });
    },
    400,
    'invalid_request',
  ],
  [
    'no response member',
    async () => {
      const { response } = await registration();
      return registerVerify({ ...response, response: undefined });
    },
    400,
    'invalid_request',
  ],
  [
    'response that is a string',
    async () => {
      const { response } = await registration();
      return registerVerify({ ...response, response: 'attestation' });
    },
    400,
    'invalid_request',
  ],
  [
    'no attestationObject',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { attestationObject: undefined }));
    },
    400,
    'invalid_request',
  ],
  [
    'attestationObject that is a number',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { attestationObject: 12 }));
    },
    400,
    'invalid_request',
  ],
  [
    'clientDataJSON that is not JSON',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withResponse(response, { clientDataJSON: Buffer.from('not json at all').toString('base64url') }),
      );
    },
    400,
    'invalid_request',
  ],
  [
    'clientDataJSON without a challenge',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withResponse(response, { clientDataJSON: clientData({ type: 'webauthn.create', origin }) }),
      );
    },
    400,
    'invalid_request',
  ],
  [
    'clientDataJSON that is a JSON array',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { clientDataJSON: Buffer.from('[1,2]').toString('base64url') }));
    },
    400,
    'invalid_request',
  ],
  [
    'a challenge this server never issued',
    async () => {
      const options = await registrationOptions();
      return registerVerify(
        createSoftwareAuthenticator({ origin }).createCredential({
          ...options,
          challenge: base64urlEncode(randomBytes(32)),
        }),
      );
    },
    400,
    'invalid_challenge',
  ],
  [
    'a registration challenge used twice',
    async () => {
      const { response, options } = await registration();
      expect((await registerVerify(response)).status).toBe(201);
      return registerVerify(createSoftwareAuthenticator({ origin }).createCredential(options));
    },
    400,
    'invalid_challenge',
  ],
  [
    'a login challenge used to register',
    async () => {
      const options = await registrationOptions();
      const login = await loginOptions();
      return registerVerify(
        createSoftwareAuthenticator({ origin }).createCredential(options, { challenge: login.challenge }),
      );
    },
    400,
    'invalid_challenge',
  ],
  [
    'an unknown attestation format',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withAttestation(response, attestationObject('fido-made-up', new Map(), authDataOf(response))),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'format none with a non-empty attestation statement',
    async () => {
      const { response } = await registration();
      const attStmt = new Map<string, any>([
        ['alg', -7],
        ['sig', new Uint8Array(64).fill(7)],
      ]);
      return registerVerify(withAttestation(response, attestationObject('none', attStmt, authDataOf(response))));
    },
    400,
    'verification_failed',
  ],
  [
    'a public key algorithm that was not offered (ES384)',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withAttestation(
          response,
          attestationObject('none', new Map(), authDataWithAlgorithm(authDataOf(response), -35)),
        ),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'a public key algorithm that does not exist',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withAttestation(
          response,
          attestationObject('none', new Map(), authDataWithAlgorithm(authDataOf(response), -65000)),
        ),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'authenticatorData cut short',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withAttestation(response, attestationObject('none', new Map(), authDataOf(response).slice(0, 30))),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'authenticatorData cut inside the credential public key',
    async () => {
      const { response } = await registration();
      const authData = authDataOf(response);
      return registerVerify(
        withAttestation(response, attestationObject('none', new Map(), authData.slice(0, authData.length - 10))),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'authenticatorData with trailing garbage',
    async () => {
      const { response } = await registration();
      return registerVerify(
        withAttestation(
          response,
          attestationObject('none', new Map(), concat(authDataOf(response), Uint8Array.of(0xde, 0xad, 0xbe, 0xef))),
        ),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'an attestation object that is not CBOR',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { attestationObject: base64urlEncode(randomBytes(64)) }));
    },
    400,
    'verification_failed',
  ],
  [
    'an attestation object of 10 000 characters',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { attestationObject: 'A'.repeat(10_000) }));
    },
    400,
    'verification_failed',
  ],
  [
    'clientData from another origin (registration)',
    async () => {
      const options = await registrationOptions();
      return registerVerify(
        createSoftwareAuthenticator({ origin }).createCredential(options, { origin: 'https://evil.example' }),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'clientData marked crossOrigin (registration)',
    async () => {
      const options = await registrationOptions();
      return registerVerify(
        createSoftwareAuthenticator({ origin }).createCredential(options, {
          crossOrigin: true,
          topOrigin: 'https://evil.example',
        }),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'clientData of type webauthn.get at registration',
    async () => {
      const options = await registrationOptions();
      return registerVerify(
        createSoftwareAuthenticator({ origin }).createCredential(options, { type: 'webauthn.get' }),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'an rpIdHash of another site (registration)',
    async () => {
      const options = await registrationOptions();
      return registerVerify(
        createSoftwareAuthenticator({ origin }).createCredential(options, { rpId: 'evil.example' }),
      );
    },
    400,
    'verification_failed',
  ],
  [
    'no user verification when it is required (registration)',
    async () => {
      const options = await registrationOptions();
      return registerVerify(createSoftwareAuthenticator({ origin }).createCredential(options, { userVerified: false }));
    },
    400,
    'verification_failed',
  ],
  [
    'no user presence (registration)',
    async () => {
      const options = await registrationOptions();
      return registerVerify(createSoftwareAuthenticator({ origin }).createCredential(options, { userPresent: false }));
    },
    400,
    'verification_failed',
  ],
  [
    'clientExtensionResults that is an array',
    async () => {
      const { response } = await registration();
      return registerVerify({ ...response, clientExtensionResults: [] });
    },
    400,
    'invalid_request',
  ],
  [
    'transports that is a string',
    async () => {
      const { response } = await registration();
      return registerVerify(withResponse(response, { transports: 'usb' }));
    },
    400,
    'invalid_request',
  ],
];

const loginCases: Case[] = [
  [
    'id different from rawId (sign-in)',
    async () => {
      const a = await assertion();
      return loginVerify({ ...a, rawId: base64urlEncode(randomBytes(16)) });
    },
    400,
    'invalid_request',
  ],
  [
    'a credential ID in base64 instead of base64url (sign-in)',
    async () => {
      const a = await assertion();
      const id = standardBase64(a.id);
      return loginVerify({ ...a, id, rawId: id });
    },
    400,
    'invalid_request',
  ],
  [
    'a signature in padded base64',
    async () => {
      const a = await assertion();
      return loginVerify(withResponse(a, { signature: `${standardBase64(a.response.signature)}=` }));
    },
    400,
    'invalid_request',
  ],
  [
    'a 1024-byte credential ID (sign-in)',
    async () => {
      const a = await assertion();
      const id = base64urlEncode(randomBytes(1024));
      return loginVerify({ ...a, id, rawId: id });
    },
    400,
    'invalid_request',
  ],
  [
    'a user handle that is not base64url',
    async () => {
      const a = await assertion();
      return loginVerify(withResponse(a, { userHandle: 'not base64!' }));
    },
    400,
    'invalid_request',
  ],
  [
    'a signature that is an object',
    async () => {
      const a = await assertion();
      return loginVerify(withResponse(a, { signature: { der: 'x' } }));
    },
    400,
    'invalid_request',
  ],
  [
    'an authenticatorAttachment that is not a known value',
    async () => {
      const a = await assertion();
      return loginVerify({ ...a, authenticatorAttachment: 'usb-stick' });
    },
    400,
    'invalid_request',
  ],
  [
    'authenticatorData cut short (sign-in)',
    async () => {
      const a = await assertion();
      return loginVerify(
        withResponse(a, {
          authenticatorData: base64urlEncode(Buffer.from(a.response.authenticatorData, 'base64url').subarray(0, 20)),
        }),
      );
    },
    401,
    'verification_failed',
  ],
  [
    'authenticatorData with trailing garbage (sign-in)',
    async () => {
      const a = await assertion();
      return loginVerify(
        withResponse(a, {
          authenticatorData: base64urlEncode(
            concat(Buffer.from(a.response.authenticatorData, 'base64url'), Uint8Array.of(1, 2, 3)),
          ),
        }),
      );
    },
    401,
    'verification_failed',
  ],
  [
    'clientData from another origin (sign-in)',
    async () => loginVerify(await assertion({ origin: 'https://evil.example' })),
    401,
    'verification_failed',
  ],
  [
    'clientData marked crossOrigin (sign-in)',
    async () => loginVerify(await assertion({ crossOrigin: true, topOrigin: 'https://evil.example' })),
    401,
    'verification_failed',
  ],
  [
    'clientData of type webauthn.create at sign-in',
    async () => loginVerify(await assertion({ type: 'webauthn.create' })),
    401,
    'verification_failed',
  ],
  [
    'an rpIdHash of another site (sign-in)',
    async () => loginVerify(await assertion({ rpId: 'evil.example' })),
    401,
    'verification_failed',
  ],
  [
    'a corrupted signature',
    async () => loginVerify(await assertion({ corruptSignature: true })),
    401,
    'verification_failed',
  ],
  [
    'no user verification when it is required (sign-in)',
    async () => loginVerify(await assertion({ userVerified: false })),
    401,
    'verification_failed',
  ],
  [
    'a user handle naming another user',
    async () => {
      const a = await assertion({ userHandle: bob.authenticator.credentials[0]!.userHandle });
      return loginVerify(a);
    },
    401,
    'verification_failed',
  ],
  [
    'no user handle on a usernameless sign-in',
    async () => loginVerify(await assertion({ userHandle: null })),
    401,
    'verification_failed',
  ],
  [
    'a credential this server does not know',
    async () => {
      const stranger = createSoftwareAuthenticator({ origin });
      stranger.createCredential(await registrationOptions());
      return loginVerify(stranger.getAssertion(await loginOptions()));
    },
    401,
    'unknown_credential',
  ],
  [
    'a registration challenge used to sign in',
    async () => {
      const options = await registrationOptions();
      return loginVerify(await assertion({ challenge: options.challenge }));
    },
    400,
    'invalid_challenge',
  ],
  [
    'an assertion replayed',
    async () => {
      const a = await assertion();
      expect((await loginVerify(a)).status).toBe(200);
      return loginVerify(a);
    },
    400,
    'invalid_challenge',
  ],
];

const sessionCases: Case[] = [
  [
    'a duplicated session cookie',
    () => raw(t, 'GET', '/auth/session', { cookie: `${alice.cookie}; ${alice.cookie}` }),
    401,
    'unauthenticated',
  ],
  [
    'the session cookie twice with different values',
    () => raw(t, 'GET', '/auth/session', { cookie: `${alice.cookie}; ${bob.cookie}` }),
    401,
    'unauthenticated',
  ],
  [
    'a case-varied cookie name',
    () => raw(t, 'GET', '/auth/session', { cookie: `__host-session=${aliceToken()}` }),
    401,
    'unauthenticated',
  ],
  [
    'an upper-case cookie name',
    () => raw(t, 'GET', '/auth/session', { cookie: `__HOST-SESSION=${aliceToken()}` }),
    401,
    'unauthenticated',
  ],
  [
    'the session token in a query string',
    () => raw(t, 'GET', `/auth/session?session=${aliceToken()}&__Host-session=${aliceToken()}`),
    401,
    'unauthenticated',
  ],
  [
    'the session token in an Authorization header',
    () => raw(t, 'GET', '/auth/session', { headers: { Authorization: `Bearer ${aliceToken()}` } }),
    401,
    'unauthenticated',
  ],
  [
    'a session token with control characters',
    () =>
      raw(t, 'GET', '/auth/session', {
        cookie: `__Host-session=${aliceToken().slice(0, 30)}%00${aliceToken().slice(33)}`,
      }),
    401,
    'unauthenticated',
  ],
  [
    'a 10 000-character session cookie',
    () => raw(t, 'GET', '/auth/session', { cookie: `__Host-session=${'a'.repeat(10_000)}` }),
    401,
    'unauthenticated',
  ],
  [
    'a token with the right id and a wrong secret',
    () => raw(t, 'GET', '/auth/sessions', { cookie: `__Host-session=${aliceToken().split('.')[0]}.${'A'.repeat(43)}` }),
    401,
    'unauthenticated',
  ],
  [
    'a token without its secret half',
    () => raw(t, 'GET', '/auth/passkeys', { cookie: `__Host-session=${aliceToken().split('.')[0]}` }),
    401,
    'unauthenticated',
  ],
  [
    'deleting a session id of 10 000 characters',
    () => raw(t, 'DELETE', `/auth/sessions/${'s'.repeat(10_000)}`, { cookie: alice.cookie }),
    404,
    'not_found',
  ],
  [
    'deleting another user’s session',
    async () => {
      const sessions = (await (await t.get('/auth/sessions', bob.cookie)).json()) as {
        sessions: Array<{ id: string }>;
      };
      return raw(t, 'DELETE', `/auth/sessions/${sessions.sessions[0]!.id}`, { cookie: alice.cookie });
    },
    404,
    'not_found',
  ],
  [
    'renaming a passkey to 10 000 characters',
    () =>
      raw(t, 'PATCH', `/auth/passkeys/${alice.authenticator.credentials[0]!.id}`, {
        body: json({ name: 'n'.repeat(10_000) }),
        cookie: alice.cookie,
      }),
    400,
    'invalid_request',
  ],
  [
    'renaming a passkey to a number',
    () =>
      raw(t, 'PATCH', `/auth/passkeys/${alice.authenticator.credentials[0]!.id}`, {
        body: json({ name: 42 }),
        cookie: alice.cookie,
      }),
    400,
    'invalid_request',
  ],
  [
    'renaming a passkey with a NUL in the name',
    () =>
      raw(t, 'PATCH', `/auth/passkeys/${alice.authenticator.credentials[0]!.id}`, {
        body: json({ name: 'a\u0000b' }),
        cookie: alice.cookie,
      }),
    400,
    'invalid_request',
  ],
  [
    'renaming another user’s passkey',
    () =>
      raw(t, 'PATCH', `/auth/passkeys/${bob.authenticator.credentials[0]!.id}`, {
        body: json({ name: 'mine now' }),
        cookie: alice.cookie,
      }),
    404,
    'not_found',
  ],
  [
    'renaming a passkey whose id is not base64url',
    () => raw(t, 'PATCH', '/auth/passkeys/%2B%2F%3D%3D', { body: json({ name: 'x' }), cookie: alice.cookie }),
    404,
    'not_found',
  ],
  [
    'changing the display name to an array',
    () => raw(t, 'PATCH', '/auth/user', { body: json({ displayName: ['x'] }), cookie: alice.cookie }),
    400,
    'invalid_request',
  ],
  [
    'a recovery with a null code',
    () => t.post('/auth/recover', { username: 'alice-hostile', code: null }),
    400,
    'invalid_request',
  ],
  [
    'a recovery code of 10 000 characters',
    () => t.post('/auth/recover', { username: 'alice-hostile', code: 'c'.repeat(10_000) }),
    400,
    'invalid_request',
  ],
  [
    'a step-up assertion without a session',
    async () => raw(t, 'POST', '/auth/reauth/verify', { body: json(await assertion()) }),
    401,
    'unauthenticated',
  ],
  [
    'a step-up response that is an array',
    () => raw(t, 'POST', '/auth/reauth/verify', { body: '[]', cookie: alice.cookie }),
    400,
    'invalid_request',
  ],
  ['a token request without a session', () => t.post('/auth/token', {}), 401, 'unauthenticated'],
];

const cases: Case[] = [...bodyCases, ...usernameCases, ...registrationCases, ...loginCases, ...sessionCases];

describe('hostile input', () => {
  it('has at least 60 named cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map(([name]) => name)).size).toBe(cases.length);
  });

  it.each(cases.map(([name, run, status, code]) => ({ name, run, status, code })))(
    '$name → $status $code',
    async ({ run, status, code }) => {
      const response = await run();
      const body = await response.text();
      expect(response.status, body).toBeLessThan(500);
      expect({ status: response.status, body: JSON.parse(body) }).toEqual({
        status,
        body: { error: { code, message: expect.any(String) } },
      });
      expect(body).not.toMatch(/at .*\.(ts|js):\d+|select |insert |node_modules/i);
    },
  );

  it('accepts a 1023-byte credential ID: the registration succeeds and it signs in', async () => {
    const options = await registrationOptions();
    const authenticator = createSoftwareAuthenticator({ origin });
    const response = authenticator.createCredential(options, { credentialId: randomBytes(1023) });
    const registered = await registerVerify(response);
    expect(registered.status, await registered.clone().text()).toBe(201);
    t.clock.advance(61);
    const signedIn = await loginVerify(authenticator.getAssertion(await loginOptions()));
    expect(signedIn.status).toBe(200);
  });

  it('ignores a userId or user field in a body: identity comes only from the session', async () => {
    const renamed = await raw(t, 'PATCH', '/auth/user', {
      body: json({ displayName: 'Alice Renamed', userId: bob.user.id, user: { id: bob.user.id } }),
      cookie: alice.cookie,
    });
    expect(renamed.status).toBe(200);
    const bobNow = await (await t.get('/auth/session', bob.cookie)).json();
    expect(bobNow.user.displayName).not.toBe('Alice Renamed');
    const aliceNow = await (await t.get('/auth/session', alice.cookie)).json();
    expect(aliceNow.user.displayName).toBe('Alice Renamed');

    const a = await assertion();
    const signedIn = await loginVerify({ ...a, userId: bob.user.id, user: { id: bob.user.id } });
    expect(signedIn.status).toBe(200);
    expect((await signedIn.json()).user.id).toBe(alice.user.id);
  });

  it('keeps answering after all of it', async () => {
    expect((await t.get('/healthz')).status).toBe(200);
    expect((await t.get('/auth/session', alice.cookie)).status).toBe(200);
  });
});
