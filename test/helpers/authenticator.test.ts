import { createPublicKey, verify } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { decodeAttestationObject, isoCBOR, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { describe, expect, it } from 'vitest';
import {
  AuthenticatorFlags,
  base64urlDecode,
  base64urlEncode,
  type CborValue,
  createSoftwareAuthenticator,
  encodeCbor,
  type SoftwareAuthenticator,
} from './authenticator.js';

const ORIGIN = 'http://localhost:3000';
const RP_ID = 'localhost';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

async function registrationOptions(userName = 'alice', userID?: Uint8Array<ArrayBuffer>) {
  return generateRegistrationOptions({
    rpName: 'Test RP',
    rpID: RP_ID,
    userName,
    userID,
    attestationType: 'none',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: [-7],
  });
}

function verifyRegistration(options: PublicKeyCredentialCreationOptionsJSON, response: RegistrationResponseJSON) {
  return verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: true,
    supportedAlgorithmIDs: [-7],
  });
}

/** Registers a fresh credential and returns what an RP would have stored. */
async function register(authenticator: SoftwareAuthenticator, userName = 'alice') {
  const options = await registrationOptions(userName);
  const response = authenticator.createCredential(options);
  const verification = await verifyRegistration(options, response);
  if (!verification.verified) throw new Error('registration did not verify');
  return { options, response, credential: verification.registrationInfo.credential };
}

function verifyAssertion(
  challenge: string,
  response: AuthenticationResponseJSON,
  credential: WebAuthnCredential,
  requireUserVerification = true,
) {
  return verifyAuthenticationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential,
    requireUserVerification,
  });
}

describe('encodeCbor', () => {
  // Vectors from RFC 8949 Appendix A.
  const vectors: [CborValue, string][] = [
    [0, '00'],
    [1, '01'],
    [23, '17'],
    [24, '1818'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [18446744073709551615n, '1bffffffffffffffff'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    [new Uint8Array(0), '40'],
    [Uint8Array.of(1, 2, 3, 4), '4401020304'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [new Map(), 'a0'],
    [
      new Map([
        [1, 2],
        [3, 4],
      ]),
      'a201020304',
    ],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [['a', { b: 'c' }], '826161a161626163'],
  ];

  it.each(vectors)('encodes %o', (value, expected) => {
    expect(hex(encodeCbor(value))).toBe(expected);
  });

  it('encodes 25-element arrays with a one-byte length', () => {
    const arr = Array.from({ length: 25 }, (_, i) => i + 1);
    expect(hex(encodeCbor(arr)).slice(0, 4)).toBe('9819');
  });

  it('round-trips through the library CBOR decoder', () => {
    const value = new Map<number | string, CborValue>([
      [1, 2],
      [-7, Uint8Array.of(9, 9)],
      ['text', 'x'.repeat(300)],
      ['list', [-500, 70000]],
    ]);
    const decoded = isoCBOR.decodeFirst<Map<number | string, unknown>>(encodeCbor(value));
    expect(decoded.get(1)).toBe(2);
    expect(decoded.get(-7)).toEqual(Uint8Array.of(9, 9));
    expect(decoded.get('text')).toBe('x'.repeat(300));
    expect(decoded.get('list')).toEqual([-500, 70000]);
  });

  it('rejects non-integers', () => {
    expect(() => encodeCbor(1.5)).toThrow(TypeError);
  });
});

describe('base64url helpers', () => {
  it('round-trips and tolerates padding', () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0x00, 0x3e);
    expect(base64urlEncode(bytes)).toBe('-_8APg');
    expect(base64urlDecode('-_8APg')).toEqual(bytes);
    expect(base64urlDecode('-_8APg==')).toEqual(bytes);
    expect(() => base64urlDecode('a+b/')).toThrow(TypeError);
  });
});

describe('software authenticator: registration', () => {
  it('produces a response that @simplewebauthn/server verifies', async () => {
    const authenticator = createSoftwareAuthenticator();
    const userID = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const options = await registrationOptions('alice', userID);
    const response = authenticator.createCredential(options);

    const verification = await verifyRegistration(options, response);
    expect(verification.verified).toBe(true);
    const info = verification.registrationInfo!;
    expect(info.fmt).toBe('none');
    expect(info.aaguid).toBe('00000000-0000-0000-0000-000000000000');
    expect(info.credential.id).toBe(response.id);
    expect(info.credential.counter).toBe(0);
    expect(info.credential.transports).toEqual(['internal', 'hybrid']);
    expect(info.userVerified).toBe(true);
    expect(info.credentialDeviceType).toBe('singleDevice');
    expect(info.credentialBackedUp).toBe(false);
    expect(info.origin).toBe(ORIGIN);
    expect(info.rpID).toBe(RP_ID);

    const stored = authenticator.credentials;
    expect(stored).toHaveLength(1);
    expect(stored[0]!.id).toBe(response.id);
    expect(base64urlEncode(stored[0]!.rawId)).toBe(response.id);
    expect(stored[0]!.userHandle).toBe(base64urlEncode(userID));
    expect(stored[0]!.userHandle).toBe(options.user.id);
    expect(stored[0]!.signCount).toBe(0);
    expect(stored[0]!.rpId).toBe(RP_ID);
    expect(info.credential.publicKey).toEqual(stored[0]!.cosePublicKey);
  });

  it('emits browser-shaped JSON with real authenticatorData and COSE key', async () => {
    const authenticator = createSoftwareAuthenticator({ aaguid: '01020304-0506-0708-090a-0b0c0d0e0f10' });
    const options = await registrationOptions();
    const response = authenticator.createCredential(options);

    expect(response.type).toBe('public-key');
    expect(response.rawId).toBe(response.id);
    expect(response.authenticatorAttachment).toBe('platform');
    // generateRegistrationOptions always requests credProps; browsers answer it.
    expect(response.clientExtensionResults).toEqual({ credProps: { rk: true } });
    expect(response.response.publicKeyAlgorithm).toBe(-7);

    const clientData = JSON.parse(Buffer.from(base64urlDecode(response.response.clientDataJSON)).toString());
    expect(clientData).toEqual({
      type: 'webauthn.create',
      challenge: options.challenge,
      origin: ORIGIN,
      crossOrigin: false,
    });

    const attObj = decodeAttestationObject(base64urlDecode(response.response.attestationObject));
    expect(attObj.get('fmt')).toBe('none');
    expect(attObj.get('attStmt').size).toBe(0);
    const authData = attObj.get('authData');
    expect(base64urlEncode(authData)).toBe(response.response.authenticatorData);

    const parsed = parseAuthenticatorData(authData);
    expect(parsed.flags.flagsInt).toBe(AuthenticatorFlags.UP | AuthenticatorFlags.UV | AuthenticatorFlags.AT);
    expect(parsed.counter).toBe(0);
    expect(hex(parsed.aaguid!)).toBe('0102030405060708090a0b0c0d0e0f10');
    expect(base64urlEncode(parsed.credentialID!)).toBe(response.id);

    const cose = isoCBOR.decodeFirst<Map<number, unknown>>(parsed.credentialPublicKey!);
    expect([...cose.keys()]).toEqual([1, 3, -1, -2, -3]);
    expect(cose.get(1)).toBe(2);
    expect(cose.get(3)).toBe(-7);
    expect(cose.get(-1)).toBe(1);
    expect((cose.get(-2) as Uint8Array).byteLength).toBe(32);
    expect((cose.get(-3) as Uint8Array).byteLength).toBe(32);

    // `publicKey` is SPKI DER of the same key.
    const spki = createPublicKey({
      key: Buffer.from(base64urlDecode(response.response.publicKey!)),
      format: 'der',
      type: 'spki',
    });
    const jwk = spki.export({ format: 'jwk' });
    expect(base64urlDecode(jwk.x!)).toEqual(cose.get(-2));
    expect(base64urlDecode(jwk.y!)).toEqual(cose.get(-3));
  });

  it('honours credentialId, signCount and backup flag overrides', async () => {
    const authenticator = createSoftwareAuthenticator();
    const options = await registrationOptions();
    const response = authenticator.createCredential(options, {
      credentialId: Uint8Array.of(7, 7, 7),
      signCount: 42,
      backupEligible: true,
      backupState: true,
    });
    expect(response.id).toBe(base64urlEncode(Uint8Array.of(7, 7, 7)));
    const verification = await verifyRegistration(options, response);
    expect(verification.registrationInfo!.credential.counter).toBe(42);
    expect(verification.registrationInfo!.credentialDeviceType).toBe('multiDevice');
    expect(verification.registrationInfo!.credentialBackedUp).toBe(true);
    expect(authenticator.credentials[0]!.signCount).toBe(42);
  });

  describe('tampered registration responses are rejected', () => {
    it('wrong origin', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, { origin: 'https://evil.example' });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/origin/);
    });

    it('origin configured on the authenticator is what ends up in clientData', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator({ origin: 'http://localhost:4000' }).createCredential(options);
      await expect(verifyRegistration(options, response)).rejects.toThrow(/origin/);
    });

    it('other rpId hash in authData', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, { rpId: 'evil.example' });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/RP ID/);
    });

    it('wrong challenge', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, {
        challenge: base64urlEncode(Uint8Array.of(1, 2, 3)),
      });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/challenge/);
    });

    it('wrong clientData type', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, { type: 'webauthn.get' });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/type/);
    });

    it('UP unset', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, { userPresent: false });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/presence/);
    });

    it('UV unset with requireUserVerification', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, { userVerified: false });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/verification/);
    });

    it('BS without BE', async () => {
      const options = await registrationOptions();
      const response = createSoftwareAuthenticator().createCredential(options, { backupState: true });
      await expect(verifyRegistration(options, response)).rejects.toThrow(/Single-device/);
    });
  });

  it('refuses excludeCredentials matches and unsupported algorithms like a browser', async () => {
    const authenticator = createSoftwareAuthenticator();
    const { response } = await register(authenticator);
    const options = await generateRegistrationOptions({
      rpName: 'Test RP',
      rpID: RP_ID,
      userName: 'alice',
      excludeCredentials: [{ id: response.id }],
    });
    expect(() => authenticator.createCredential(options)).toThrow(
      expect.objectContaining({ name: 'InvalidStateError' }),
    );
    expect(() => authenticator.createCredential(options, { ignoreExcludeCredentials: true })).not.toThrow();

    const rsaOnly = await generateRegistrationOptions({
      rpName: 'x',
      rpID: RP_ID,
      userName: 'a',
      supportedAlgorithmIDs: [-257],
    });
    expect(() => authenticator.createCredential(rsaOnly)).toThrow(
      expect.objectContaining({ name: 'NotSupportedError' }),
    );
  });
});

describe('software authenticator: authentication', () => {
  it('usernameless assertion verifies with the registered public key and counter', async () => {
    const authenticator = createSoftwareAuthenticator();
    const { options: regOptions, credential } = await register(authenticator);

    const authOptions = await generateAuthenticationOptions({ rpID: RP_ID, userVerification: 'required' });
    expect(authOptions.allowCredentials).toBeUndefined();
    const assertion = authenticator.getAssertion(authOptions);

    expect(assertion.id).toBe(credential.id);
    expect(assertion.rawId).toBe(credential.id);
    expect(assertion.type).toBe('public-key');
    expect(assertion.authenticatorAttachment).toBe('platform');
    expect(assertion.clientExtensionResults).toEqual({});
    expect(assertion.response.userHandle).toBe(regOptions.user.id);

    const verification = await verifyAssertion(authOptions.challenge, assertion, credential);
    expect(verification.verified).toBe(true);
    expect(verification.authenticationInfo.newCounter).toBe(1);
    expect(verification.authenticationInfo.userVerified).toBe(true);
    expect(verification.authenticationInfo.rpID).toBe(RP_ID);
    expect(authenticator.credentials[0]!.signCount).toBe(1);

    // A second assertion verifies against the updated counter.
    const authOptions2 = await generateAuthenticationOptions({ rpID: RP_ID });
    const assertion2 = authenticator.getAssertion(authOptions2);
    const verification2 = await verifyAssertion(authOptions2.challenge, assertion2, {
      ...credential,
      counter: verification.authenticationInfo.newCounter,
    });
    expect(verification2.verified).toBe(true);
    expect(verification2.authenticationInfo.newCounter).toBe(2);

    const parsed = parseAuthenticatorData(base64urlDecode(assertion2.response.authenticatorData));
    expect(parsed.flags.flagsInt).toBe(AuthenticatorFlags.UP | AuthenticatorFlags.UV);
    expect(parsed.counter).toBe(2);
    expect(parsed.credentialID).toBeUndefined();
  });

  it('signs authData || SHA-256(clientDataJSON) with DER ECDSA', async () => {
    const authenticator = createSoftwareAuthenticator();
    await register(authenticator);
    const authOptions = await generateAuthenticationOptions({ rpID: RP_ID });
    const assertion = authenticator.getAssertion(authOptions);
    const authData = base64urlDecode(assertion.response.authenticatorData);
    const clientDataHash = Buffer.from(
      await crypto.subtle.digest('SHA-256', base64urlDecode(assertion.response.clientDataJSON)),
    );
    const signature = base64urlDecode(assertion.response.signature);
    expect(signature[0]).toBe(0x30); // DER SEQUENCE
    expect(
      verify('sha256', Buffer.concat([authData, clientDataHash]), authenticator.credentials[0]!.publicKey, signature),
    ).toBe(true);
  });

  it('picks credentials by allowCredentials, most recent, or overrides.credentialId', async () => {
    const authenticator = createSoftwareAuthenticator();
    const first = await register(authenticator, 'alice');
    const second = await register(authenticator, 'bob');

    const usernameless = await generateAuthenticationOptions({ rpID: RP_ID });
    expect(authenticator.getAssertion(usernameless).id).toBe(second.credential.id);

    const allowFirst = await generateAuthenticationOptions({
      rpID: RP_ID,
      allowCredentials: [{ id: 'AAAA' }, { id: first.credential.id }, { id: second.credential.id }],
    });
    const assertion = authenticator.getAssertion(allowFirst);
    expect(assertion.id).toBe(first.credential.id);
    expect(assertion.response.userHandle).toBe(first.options.user.id);
    expect((await verifyAssertion(allowFirst.challenge, assertion, first.credential)).verified).toBe(true);

    const chosen = authenticator.getAssertion(usernameless, { credentialId: first.credential.id });
    expect(chosen.id).toBe(first.credential.id);
    const chosenByBytes = authenticator.getAssertion(usernameless, {
      credentialId: base64urlDecode(second.credential.id),
    });
    expect(chosenByBytes.id).toBe(second.credential.id);

    const allowUnknown = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: 'AAAA' }] });
    expect(() => authenticator.getAssertion(allowUnknown)).toThrow(
      expect.objectContaining({ name: 'NotAllowedError' }),
    );
    const otherRp = await generateAuthenticationOptions({ rpID: 'example.com' });
    expect(() => authenticator.getAssertion(otherRp)).toThrow(expect.objectContaining({ name: 'NotAllowedError' }));
    expect(() => createSoftwareAuthenticator().getAssertion(usernameless)).toThrow(
      expect.objectContaining({ name: 'NotAllowedError' }),
    );
  });

  it('userHandle override replaces or omits response.userHandle', async () => {
    const authenticator = createSoftwareAuthenticator();
    await register(authenticator);
    const authOptions = await generateAuthenticationOptions({ rpID: RP_ID });
    expect(authenticator.getAssertion(authOptions, { userHandle: 'b3RoZXI' }).response.userHandle).toBe('b3RoZXI');
    expect('userHandle' in authenticator.getAssertion(authOptions, { userHandle: null }).response).toBe(false);
  });

  it('signCount override does not advance the stored counter', async () => {
    const authenticator = createSoftwareAuthenticator();
    const { credential } = await register(authenticator);
    const authOptions = await generateAuthenticationOptions({ rpID: RP_ID });
    const assertion = authenticator.getAssertion(authOptions, { signCount: 10 });
    const verification = await verifyAssertion(authOptions.challenge, assertion, credential);
    expect(verification.authenticationInfo.newCounter).toBe(10);
    expect(authenticator.credentials[0]!.signCount).toBe(0);
  });

  describe('tampered assertions are rejected', () => {
    async function setup() {
      const authenticator = createSoftwareAuthenticator();
      const { credential } = await register(authenticator);
      const authOptions = await generateAuthenticationOptions({ rpID: RP_ID });
      return { authenticator, credential, authOptions };
    }

    it('wrong origin', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { origin: 'https://evil.example' });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/origin/);
    });

    it('other rpId hash in authData', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { rpId: 'evil.example' });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/RP ID/);
    });

    it('wrong challenge', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { challenge: 'AAAA' });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/challenge/);
    });

    it('wrong clientData type', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { type: 'webauthn.create' });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/type/);
    });

    it('UP unset', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { userPresent: false });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/not present/);
    });

    it('UV unset with requireUserVerification: true (accepted when false)', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { userVerified: false });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential, true)).rejects.toThrow(/verification/);
      const lenient = await verifyAssertion(authOptions.challenge, assertion, credential, false);
      expect(lenient.verified).toBe(true);
      expect(lenient.authenticationInfo.userVerified).toBe(false);
    });

    it('corrupt signature', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { corruptSignature: true });
      const result = await verifyAssertion(authOptions.challenge, assertion, credential);
      expect(result.verified).toBe(false);
    });

    it('signature from a different credential key', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const { credential: otherCredential } = await register(authenticator, 'mallory');
      const assertion = authenticator.getAssertion(authOptions, { credentialId: otherCredential.id });
      const result = await verifyAssertion(authOptions.challenge, assertion, credential);
      expect(result.verified).toBe(false);
    });

    it('counter regression', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const first = authenticator.getAssertion(authOptions);
      const { authenticationInfo } = await verifyAssertion(authOptions.challenge, first, credential);
      const stored = { ...credential, counter: authenticationInfo.newCounter };
      expect(stored.counter).toBe(1);

      const replayedCount = authenticator.getAssertion(authOptions, { signCount: 1 });
      await expect(verifyAssertion(authOptions.challenge, replayedCount, stored)).rejects.toThrow(/counter/);
      const zeroCount = authenticator.getAssertion(authOptions, { signCount: 0 });
      await expect(verifyAssertion(authOptions.challenge, zeroCount, stored)).rejects.toThrow(/counter/);
    });

    it('cross-origin iframe with an unexpected topOrigin', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, {
        crossOrigin: true,
        topOrigin: 'https://evil.example',
      });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/top origin/);
    });

    it('BS without BE', async () => {
      const { authenticator, credential, authOptions } = await setup();
      const assertion = authenticator.getAssertion(authOptions, { backupState: true });
      await expect(verifyAssertion(authOptions.challenge, assertion, credential)).rejects.toThrow(/Single-device/);
    });
  });
});
