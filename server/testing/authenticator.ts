/**
 * A software WebAuthn authenticator (plus the browser "client" half of the ceremony) for tests.
 *
 * It produces `RegistrationResponseJSON` / `AuthenticationResponseJSON` objects that are byte-for-byte
 * what a real browser + platform authenticator would send: real CBOR attestation objects
 * (`fmt: "none"`), real authenticatorData (rpIdHash, flags, big-endian signCount, attested credential
 * data with a COSE_Key), and real ES256 (P-256, DER-encoded) signatures over
 * `authenticatorData || SHA-256(clientDataJSON)`.
 *
 * Only `node:crypto` is used. Every output can be tampered with through per-call overrides so that
 * negative paths of a relying party can be exercised without mocking. Part of the public test kit:
 * `import { createSoftwareAuthenticator } from 'passkey-auth-server/testing'`.
 *
 * @example
 * ```ts
 * const authenticator = createSoftwareAuthenticator();
 * const regOptions = await generateRegistrationOptions({ rpName: 'x', rpID: 'localhost', userName: 'a' });
 * const registration = authenticator.createCredential(regOptions);
 * const authOptions = await generateAuthenticationOptions({ rpID: 'localhost' });
 * const assertion = authenticator.getAssertion(authOptions); // usernameless: newest credential for rpId
 * const tampered = authenticator.getAssertion(authOptions, { origin: 'https://evil.example' });
 * ```
 *
 * @module
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationExtensionsClientOutputs,
  AuthenticationResponseJSON,
  Base64URLString,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/** A `Uint8Array` backed by a plain `ArrayBuffer` (what `@simplewebauthn/server` calls `Uint8Array_`). */
export type Bytes = Uint8Array<ArrayBuffer>;

// ---------------------------------------------------------------------------------------------
// base64url
// ---------------------------------------------------------------------------------------------

/** Encode bytes as unpadded base64url. */
export function base64urlEncode(bytes: Uint8Array): Base64URLString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Decode a base64url string (padding tolerated) into a fresh `Uint8Array`.
 * @throws {TypeError} if the input contains characters outside the base64url alphabet.
 */
export function base64urlDecode(value: string): Bytes {
  const trimmed = value.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(trimmed)) {
    throw new TypeError(`Not a base64url string: ${JSON.stringify(value)}`);
  }
  return new Uint8Array(Buffer.from(trimmed, 'base64url'));
}

function sha256(data: Uint8Array | string): Bytes {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

function concatBytes(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function toBytes(value: Uint8Array | string): Bytes {
  return typeof value === 'string' ? base64urlDecode(value) : new Uint8Array(value);
}

// ---------------------------------------------------------------------------------------------
// CBOR (RFC 8949) - encoder only, definite lengths, no floats/tags.
// ---------------------------------------------------------------------------------------------

/**
 * Values {@link encodeCbor} understands. Maps keep insertion order (callers are responsible for
 * CTAP2 canonical ordering when it matters); plain objects are encoded as maps with text keys.
 */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | readonly CborValue[]
  | ReadonlyMap<number | string, CborValue>
  | { readonly [key: string]: CborValue };

function cborHead(major: number, length: number | bigint): Bytes {
  const n = BigInt(length);
  if (n < 0n) throw new RangeError('CBOR argument must be non-negative');
  const m = major << 5;
  if (n < 24n) return Uint8Array.of(m | Number(n));
  if (n < 0x100n) return Uint8Array.of(m | 24, Number(n));
  if (n < 0x10000n) {
    const out = new Uint8Array(3);
    out[0] = m | 25;
    new DataView(out.buffer).setUint16(1, Number(n));
    return out;
  }
  if (n < 0x100000000n) {
    const out = new Uint8Array(5);
    out[0] = m | 26;
    new DataView(out.buffer).setUint32(1, Number(n));
    return out;
  }
  if (n < 0x10000000000000000n) {
    const out = new Uint8Array(9);
    out[0] = m | 27;
    new DataView(out.buffer).setBigUint64(1, n);
    return out;
  }
  throw new RangeError('CBOR integer out of 64-bit range');
}

function cborInt(value: number | bigint): Bytes {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new TypeError(`CBOR encoder only supports (safe) integers, got ${value}`);
  }
  const n = BigInt(value);
  return n >= 0n ? cborHead(0, n) : cborHead(1, -1n - n);
}

/**
 * Minimal CBOR encoder: unsigned/negative integers, byte strings, text strings, arrays, maps
 * (int or text keys; `Map` or plain object), booleans and null.
 */
export function encodeCbor(value: CborValue): Bytes {
  if (value === null) return Uint8Array.of(0xf6);
  if (value === false) return Uint8Array.of(0xf4);
  if (value === true) return Uint8Array.of(0xf5);
  if (typeof value === 'number' || typeof value === 'bigint') return cborInt(value);
  if (typeof value === 'string') {
    const utf8 = new TextEncoder().encode(value);
    return concatBytes(cborHead(3, utf8.byteLength), utf8);
  }
  if (value instanceof Uint8Array) return concatBytes(cborHead(2, value.byteLength), value);
  if (Array.isArray(value)) {
    const items = value as readonly CborValue[];
    return concatBytes(cborHead(4, items.length), ...items.map(encodeCbor));
  }
  const entries: [number | string, CborValue][] =
    value instanceof Map
      ? [...(value as ReadonlyMap<number | string, CborValue>).entries()]
      : Object.entries(value as { readonly [key: string]: CborValue });
  const parts: Uint8Array[] = [cborHead(5, entries.length)];
  for (const [key, item] of entries) {
    if (typeof key !== 'number' && typeof key !== 'string') {
      throw new TypeError('CBOR map keys must be integers or strings');
    }
    parts.push(encodeCbor(key), encodeCbor(item));
  }
  return concatBytes(...parts);
}

// ---------------------------------------------------------------------------------------------
// Authenticator
// ---------------------------------------------------------------------------------------------

/** authenticatorData flag bits. */
export const AuthenticatorFlags = {
  UP: 0x01,
  UV: 0x04,
  BE: 0x08,
  BS: 0x10,
  AT: 0x40,
  ED: 0x80,
} as const;

/** COSE algorithm identifier for ES256. */
export const COSE_ALG_ES256 = -7;

/** A credential held by the software authenticator. All fields are mutable on purpose. */
export interface SoftwareCredential {
  /** Credential ID, base64url (equals the response's `id`/`rawId`). */
  id: Base64URLString;
  /** Credential ID bytes. */
  rawId: Bytes;
  /** P-256 private key used for assertions. */
  privateKey: KeyObject;
  /** P-256 public key. */
  publicKey: KeyObject;
  /** The CBOR COSE_Key embedded in the attested credential data (what RPs store as `publicKey`). */
  cosePublicKey: Bytes;
  /** User handle (base64url), i.e. `options.user.id` at registration. */
  userHandle: Base64URLString;
  /** `options.user.name` at registration. */
  userName: string;
  /** Current signature counter; the next normal assertion signs with `signCount + 1`. */
  signCount: number;
  /** RP ID the credential is scoped to. */
  rpId: string;
  /** Default BE flag for this credential's assertions (set at registration). */
  backupEligible: boolean;
  /** Default BS flag for this credential's assertions (set at registration). */
  backupState: boolean;
}

/** Options for {@link createSoftwareAuthenticator}. */
export interface SoftwareAuthenticatorOptions {
  /** Origin written into clientDataJSON. Default `'http://localhost:3000'`. */
  origin?: string;
  /** RP ID used when the ceremony options carry none (`rp.id` / `rpId`). Default `'localhost'`. */
  rpId?: string;
  /** AAGUID: 16 bytes or a 32-digit hex string (dashes allowed). Default all zeroes. */
  aaguid?: Uint8Array | string;
}

/** Tampering knobs shared by both ceremonies. Anything omitted behaves like an honest client. */
export interface CommonOverrides {
  /** Origin in clientDataJSON instead of the authenticator's origin. */
  origin?: string;
  /** Hash this RP ID into authenticatorData instead of the real one (selection still uses the real one). */
  rpId?: string;
  /** Challenge (base64url) in clientDataJSON instead of `options.challenge`. */
  challenge?: string;
  /** clientDataJSON `type` (e.g. `'webauthn.get'` during registration). */
  type?: string;
  /** clientDataJSON `crossOrigin`. Default `false`. */
  crossOrigin?: boolean;
  /** clientDataJSON `topOrigin` (omitted unless given). */
  topOrigin?: string;
  /** UP flag. Default `true`. */
  userPresent?: boolean;
  /** UV flag. Default `true`. */
  userVerified?: boolean;
  /** BE flag. Default: `false` at registration, the credential's stored value for assertions. */
  backupEligible?: boolean;
  /** BS flag. Default: `false` at registration, the credential's stored value for assertions. */
  backupState?: boolean;
  /**
   * signCount written into authenticatorData. At registration it also becomes the stored counter;
   * for an assertion it is used as-is and the stored counter is left unchanged.
   */
  signCount?: number;
  /** Replace `clientExtensionResults` in the response. */
  clientExtensionResults?: AuthenticationExtensionsClientOutputs;
}

/** Overrides for {@link SoftwareAuthenticator.createCredential}. */
export interface RegistrationOverrides extends CommonOverrides {
  /** Credential ID (bytes or base64url) for the new credential instead of 16 random bytes. */
  credentialId?: Uint8Array | string;
  /** Skip the `excludeCredentials` check (which otherwise throws `InvalidStateError`). */
  ignoreExcludeCredentials?: boolean;
}

/** Overrides for {@link SoftwareAuthenticator.getAssertion}. */
export interface AssertionOverrides extends CommonOverrides {
  /** Use this stored credential (bytes or base64url), ignoring `allowCredentials` and rpId. */
  credentialId?: Uint8Array | string;
  /** `response.userHandle` to send (base64url); `null` omits it. Default: the credential's. */
  userHandle?: string | null;
  /** Flip a bit in the last byte of the DER signature (keeps it parseable, makes it invalid). */
  corruptSignature?: boolean;
}

/** A software passkey authenticator + client. Create with {@link createSoftwareAuthenticator}. */
export interface SoftwareAuthenticator {
  /** Default origin written into clientDataJSON. */
  readonly origin: string;
  /** Default RP ID. */
  readonly rpId: string;
  /** AAGUID written into attested credential data. */
  readonly aaguid: Bytes;
  /** Stored (resident) credentials, oldest first. Entries may be mutated (e.g. `signCount`). */
  readonly credentials: SoftwareCredential[];
  /**
   * Emulates `navigator.credentials.create()` + `PublicKeyCredential.toJSON()`: creates a resident
   * ES256 credential for `options.user.id` under `options.rp.id` (or the default RP ID) and returns
   * a `fmt: "none"` registration response.
   *
   * @throws {DOMException} `NotSupportedError` if ES256 (-7) is not in `pubKeyCredParams`;
   *   `InvalidStateError` if a stored credential for the RP is in `excludeCredentials`.
   */
  createCredential(
    options: PublicKeyCredentialCreationOptionsJSON,
    overrides?: RegistrationOverrides,
  ): RegistrationResponseJSON;
  /**
   * Emulates `navigator.credentials.get()` + `toJSON()`. Credential choice: `overrides.credentialId`
   * if given; else, if `allowCredentials` is non-empty, the first listed ID that is stored for the
   * RP; else (usernameless) the most recently created credential for the RP. Increments the
   * credential's `signCount` and signs with the new value unless `overrides.signCount` is given.
   *
   * @throws {DOMException} `NotAllowedError` if no suitable credential is stored.
   */
  getAssertion(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides?: AssertionOverrides,
  ): AuthenticationResponseJSON;
  /** Find a stored credential by ID (bytes or base64url); the newest one wins on duplicates. */
  getCredential(credentialId: Uint8Array | string): SoftwareCredential | undefined;
}

function parseAaguid(aaguid: Uint8Array | string | undefined): Bytes {
  if (aaguid === undefined) return new Uint8Array(16);
  if (typeof aaguid === 'string') {
    const hex = aaguid.replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`Invalid AAGUID: ${aaguid}`);
    return new Uint8Array(Buffer.from(hex, 'hex'));
  }
  if (aaguid.byteLength !== 16) throw new TypeError('AAGUID must be 16 bytes');
  return new Uint8Array(aaguid);
}

function uint32BE(value: number): Bytes {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`signCount must be a uint32, got ${value}`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

function flagsByte(o: {
  userPresent: boolean;
  userVerified: boolean;
  backupEligible: boolean;
  backupState: boolean;
  attestedCredentialData: boolean;
}): number {
  return (
    (o.userPresent ? AuthenticatorFlags.UP : 0) |
    (o.userVerified ? AuthenticatorFlags.UV : 0) |
    (o.backupEligible ? AuthenticatorFlags.BE : 0) |
    (o.backupState ? AuthenticatorFlags.BS : 0) |
    (o.attestedCredentialData ? AuthenticatorFlags.AT : 0)
  );
}

/** COSE_Key for an EC2 P-256 public key, keys in CTAP2 canonical order (1, 3, -1, -2, -3). */
function coseKeyFromPublicKey(publicKey: KeyObject): Bytes {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    throw new Error('Expected a P-256 public key');
  }
  return encodeCbor(
    new Map<number, CborValue>([
      [1, 2], // kty: EC2
      [3, COSE_ALG_ES256], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, base64urlDecode(jwk.x)],
      [-3, base64urlDecode(jwk.y)],
    ]),
  );
}

function clientDataJSON(o: {
  type: string;
  challenge: string;
  origin: string;
  crossOrigin: boolean;
  topOrigin: string | undefined;
}): Bytes {
  // Same member order as Chromium.
  const data: Record<string, unknown> = {
    type: o.type,
    challenge: o.challenge,
    origin: o.origin,
    crossOrigin: o.crossOrigin,
  };
  if (o.topOrigin !== undefined) data.topOrigin = o.topOrigin;
  return new TextEncoder().encode(JSON.stringify(data));
}

/**
 * Create a software authenticator with an empty credential store.
 *
 * @param options.origin Origin for clientDataJSON (default `'http://localhost:3000'`).
 * @param options.rpId Fallback RP ID when ceremony options have none (default `'localhost'`).
 * @param options.aaguid AAGUID, 16 bytes or hex (default zeroes).
 */
export function createSoftwareAuthenticator(options: SoftwareAuthenticatorOptions = {}): SoftwareAuthenticator {
  const origin = options.origin ?? 'http://localhost:3000';
  const defaultRpId = options.rpId ?? 'localhost';
  const aaguid = parseAaguid(options.aaguid);
  const credentials: SoftwareCredential[] = [];

  function getCredential(credentialId: Uint8Array | string): SoftwareCredential | undefined {
    const id = base64urlEncode(toBytes(credentialId));
    for (let i = credentials.length - 1; i >= 0; i--) {
      if (credentials[i]!.id === id) return credentials[i];
    }
    return undefined;
  }

  function createCredential(
    creationOptions: PublicKeyCredentialCreationOptionsJSON,
    overrides: RegistrationOverrides = {},
  ): RegistrationResponseJSON {
    const rpId = creationOptions.rp.id ?? defaultRpId;

    if (!creationOptions.pubKeyCredParams.some((p) => p.alg === COSE_ALG_ES256)) {
      throw new DOMException('ES256 (-7) not offered in pubKeyCredParams', 'NotSupportedError');
    }
    if (!overrides.ignoreExcludeCredentials) {
      const excluded = new Set((creationOptions.excludeCredentials ?? []).map((c) => c.id.replace(/=+$/, '')));
      if (credentials.some((c) => c.rpId === rpId && excluded.has(c.id))) {
        throw new DOMException('A credential in excludeCredentials is already stored', 'InvalidStateError');
      }
    }

    const rawId =
      overrides.credentialId !== undefined ? toBytes(overrides.credentialId) : new Uint8Array(randomBytes(16));
    if (rawId.byteLength === 0 || rawId.byteLength > 1023) {
      throw new RangeError('Credential ID must be 1..1023 bytes');
    }
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cosePublicKey = coseKeyFromPublicKey(publicKey);
    const signCount = overrides.signCount ?? 0;
    const backupEligible = overrides.backupEligible ?? false;
    const backupState = overrides.backupState ?? false;

    const credIdLength = new Uint8Array(2);
    new DataView(credIdLength.buffer).setUint16(0, rawId.byteLength, false);
    const authData = concatBytes(
      sha256(overrides.rpId ?? rpId),
      Uint8Array.of(
        flagsByte({
          userPresent: overrides.userPresent ?? true,
          userVerified: overrides.userVerified ?? true,
          backupEligible,
          backupState,
          attestedCredentialData: true,
        }),
      ),
      uint32BE(signCount),
      aaguid,
      credIdLength,
      rawId,
      cosePublicKey,
    );

    // CTAP2 canonical key order: "fmt" < "attStmt" < "authData".
    const attestationObject = encodeCbor(
      new Map<string, CborValue>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );

    const clientData = clientDataJSON({
      type: overrides.type ?? 'webauthn.create',
      challenge: overrides.challenge ?? creationOptions.challenge,
      origin: overrides.origin ?? origin,
      crossOrigin: overrides.crossOrigin ?? false,
      topOrigin: overrides.topOrigin,
    });

    const credential: SoftwareCredential = {
      id: base64urlEncode(rawId),
      rawId,
      privateKey,
      publicKey,
      cosePublicKey,
      userHandle: creationOptions.user.id,
      userName: creationOptions.user.name,
      signCount,
      rpId,
      backupEligible,
      backupState,
    };
    credentials.push(credential);

    const clientExtensionResults: AuthenticationExtensionsClientOutputs =
      overrides.clientExtensionResults ?? (creationOptions.extensions?.credProps ? { credProps: { rk: true } } : {});

    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults,
      response: {
        clientDataJSON: base64urlEncode(clientData),
        attestationObject: base64urlEncode(attestationObject),
        transports: ['internal', 'hybrid'],
        publicKeyAlgorithm: COSE_ALG_ES256,
        publicKey: base64urlEncode(publicKey.export({ type: 'spki', format: 'der' })),
        authenticatorData: base64urlEncode(authData),
      },
    };
  }

  function selectCredential(
    requestOptions: PublicKeyCredentialRequestOptionsJSON,
    rpId: string,
    overrides: AssertionOverrides,
  ): SoftwareCredential {
    if (overrides.credentialId !== undefined) {
      const found = getCredential(overrides.credentialId);
      if (!found) throw new DOMException('overrides.credentialId is not stored', 'NotAllowedError');
      return found;
    }
    const allow = requestOptions.allowCredentials ?? [];
    if (allow.length > 0) {
      for (const descriptor of allow) {
        const found = getCredential(descriptor.id);
        if (found && found.rpId === rpId) return found;
      }
      throw new DOMException('No stored credential matches allowCredentials', 'NotAllowedError');
    }
    for (let i = credentials.length - 1; i >= 0; i--) {
      if (credentials[i]!.rpId === rpId) return credentials[i]!;
    }
    throw new DOMException(`No stored credential for RP ID "${rpId}"`, 'NotAllowedError');
  }

  function getAssertion(
    requestOptions: PublicKeyCredentialRequestOptionsJSON,
    overrides: AssertionOverrides = {},
  ): AuthenticationResponseJSON {
    const rpId = requestOptions.rpId ?? defaultRpId;
    const credential = selectCredential(requestOptions, rpId, overrides);

    let signCount: number;
    if (overrides.signCount !== undefined) {
      signCount = overrides.signCount;
    } else {
      credential.signCount += 1;
      signCount = credential.signCount;
    }

    const authData = concatBytes(
      sha256(overrides.rpId ?? rpId),
      Uint8Array.of(
        flagsByte({
          userPresent: overrides.userPresent ?? true,
          userVerified: overrides.userVerified ?? true,
          backupEligible: overrides.backupEligible ?? credential.backupEligible,
          backupState: overrides.backupState ?? credential.backupState,
          attestedCredentialData: false,
        }),
      ),
      uint32BE(signCount),
    );

    const clientData = clientDataJSON({
      type: overrides.type ?? 'webauthn.get',
      challenge: overrides.challenge ?? requestOptions.challenge,
      origin: overrides.origin ?? origin,
      crossOrigin: overrides.crossOrigin ?? false,
      topOrigin: overrides.topOrigin,
    });

    const signature = new Uint8Array(sign('sha256', concatBytes(authData, sha256(clientData)), credential.privateKey));
    if (overrides.corruptSignature) {
      signature[signature.length - 1]! ^= 0x01;
    }

    const userHandle = overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;

    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: overrides.clientExtensionResults ?? {},
      response: {
        clientDataJSON: base64urlEncode(clientData),
        authenticatorData: base64urlEncode(authData),
        signature: base64urlEncode(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
    };
  }

  return {
    origin,
    rpId: defaultRpId,
    aaguid,
    credentials,
    createCredential,
    getAssertion,
    getCredential,
  };
}
