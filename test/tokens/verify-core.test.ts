/**
 * The access-token verifier's own parsing and checks (server/verify.ts), without a server: it parses
 * the JWS, checks header and claims itself and verifies the signature synchronously with
 * `node:crypto`. Two kinds of proof:
 *
 * - named cases at each edge (encodings, key type against `alg`, clock boundaries, claim types);
 * - a differential property against the previous implementation, kept here as the oracle: the same
 *   header checks around jose's `jwtVerify`. For every generated token, the verifier accepts only
 *   what the oracle accepts, and accepts everything the oracle accepts except a non-canonical
 *   base64url part, a `b64` header or an `aud` list with a non-string member, which it refuses on
 *   purpose.
 */
import { createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import fc from 'fast-check';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokenError, createAccessTokenVerifier, verifyAccessToken } from '../../server/verify.js';

const issuer = 'https://auth.example';
const audience = 'https://auth.example';
const currentDate = new Date(1_800_000_000_000);
const now = 1_800_000_000;

type KeyName = 'p256' | 'ed' | 'p384' | 'attacker';
const pairs: Record<KeyName, { privateKey: KeyObject; publicKey: KeyObject }> = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ed: generateKeyPairSync('ed25519'),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  attacker: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
};
const publicJwk = (name: KeyName): JWK => ({ ...(pairs[name].publicKey.export({ format: 'jwk' }) as JWK), kid: name });
const jwks: JSONWebKeySet = { keys: [publicJwk('p256'), publicJwk('ed'), publicJwk('p384')] };
/** A getter that trusts the kid alone and hands out whatever key it names: the key-type check is the verifier's. */
const naiveGetter: JWTVerifyGetKey = async (header) => {
  const name = header.kid as KeyName;
  if (!(name in pairs) || name === 'attacker') throw new Error('no such kid');
  return pairs[name].publicKey;
};

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** Signs `header.payload` with the named key the way its type signs (P-256 ES256, P-384 ES384, Ed25519). */
function signedToken(headerJson: string, payloadJson: string, keyName: KeyName = 'p256'): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  const { privateKey } = pairs[keyName];
  const signature =
    keyName === 'ed'
      ? sign(null, Buffer.from(input), privateKey)
      : sign(keyName === 'p384' ? 'sha384' : 'sha256', Buffer.from(input), {
          key: privateKey,
          dsaEncoding: 'ieee-p1363',
        });
  return `${input}.${b64(signature)}`;
}

const header = (overrides: Record<string, unknown> = {}) => ({
  alg: 'ES256',
  typ: 'at+jwt',
  kid: 'p256',
  ...overrides,
});
const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: issuer,
  aud: audience,
  sub: 'user-1',
  sid: 'session-1',
  iat: now,
  exp: now + 300,
  jti: 'token-1',
  ...overrides,
});
const token = (h: Record<string, unknown> = {}, c: Record<string, unknown> = {}, key?: KeyName) =>
  signedToken(JSON.stringify(header(h)), JSON.stringify(claims(c)), key);

/** The verifier's reason for refusing, or `null` when it accepts. */
async function refusal(value: string, keys: JSONWebKeySet | JWTVerifyGetKey = jwks): Promise<string | null> {
  try {
    await verifyAccessToken(value, { jwks: keys, issuer, audience, currentDate });
    return null;
  } catch (error) {
    if (!(error instanceof AccessTokenError) || error.code !== 'invalid_token') throw error;
    return error.message;
  }
}

async function accepts(value: string, keys: JSONWebKeySet | JWTVerifyGetKey = jwks): Promise<boolean> {
  try {
    await verifyAccessToken(value, { jwks: keys, issuer, audience, currentDate });
    return true;
  } catch (error) {
    if (!(error instanceof AccessTokenError) || error.code !== 'invalid_token') throw error;
    return false;
  }
}

describe('the verifier accepts what the auth server issues', () => {
  it('ES256 and EdDSA, from a JWKS object or a getter giving a KeyObject, a CryptoKey or a JWK', async () => {
    const es256 = token();
    const eddsa = token({ alg: 'EdDSA', kid: 'ed' }, {}, 'ed');
    expect(await accepts(es256)).toBe(true);
    expect(await accepts(eddsa)).toBe(true);
    expect(await accepts(es256, naiveGetter)).toBe(true);
    const cryptoKey = await importJWK(publicJwk('p256'), 'ES256');
    expect(await accepts(es256, async () => cryptoKey)).toBe(true);
    expect(await accepts(es256, async () => publicJwk('p256'))).toBe(true);
    const claimsOut = await verifyAccessToken(es256, { jwks, issuer, audience, currentDate });
    expect(claimsOut).toEqual(claims());
  });

  it('typ as jose compares it: case-insensitive, with or without application/', async () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT'])
      expect(await accepts(token({ typ })), typ).toBe(true);
    for (const typ of ['JWT', 'application/jwt', 'at+jwt ', 'dpop+jwt', '', 1, null])
      expect(await accepts(token({ typ })), String(typ)).toBe(false);
    expect(await accepts(signedToken(JSON.stringify({ alg: 'ES256', kid: 'p256' }), JSON.stringify(claims())))).toBe(
      false,
    );
  });

  it('an audience list that names this service, and a JWKS with two keys under one kid', async () => {
    expect(await accepts(token({}, { aud: ['https://other.example', audience] }))).toBe(true);
    const doubled: JSONWebKeySet = { keys: [{ ...publicJwk('attacker'), kid: 'p256' }, publicJwk('p256')] };
    expect(await accepts(token(), doubled)).toBe(true);
  });
});

describe('the key must fit the algorithm', () => {
  it('refuses an Ed25519 key for ES256, a P-256 key for EdDSA and a P-384 key for ES256', async () => {
    // The naive getter hands out the named key whatever the header's alg; only the verifier can refuse.
    const edAsEs256 = signedToken(JSON.stringify(header({ kid: 'ed' })), JSON.stringify(claims()), 'ed');
    const p256AsEdDsa = signedToken(JSON.stringify(header({ alg: 'EdDSA' })), JSON.stringify(claims()), 'p256');
    const p384AsEs256 = signedToken(JSON.stringify(header({ kid: 'p384' })), JSON.stringify(claims()), 'p256');
    for (const forged of [edAsEs256, p256AsEdDsa, p384AsEs256]) {
      // Refused before the signature is checked: the key is never used with an algorithm it was not made for.
      expect(await refusal(forged, naiveGetter)).toMatch(/does not fit its algorithm/);
      expect(await accepts(forged)).toBe(false);
    }
  });

  it('refuses a private key, a secret and a private JWK from the getter', async () => {
    const valid = token();
    const privateJwk = { ...(pairs.p256.privateKey.export({ format: 'jwk' }) as JWK), kid: 'p256' };
    for (const key of [pairs.p256.privateKey, new Uint8Array(32), privateJwk, {} as JWK])
      expect(await refusal(valid, async () => key)).toMatch(/does not fit its algorithm/);
  });

  it('refuses a signature made by another key, in DER form, or of the wrong length', async () => {
    expect(await accepts(token({}, {}, 'attacker'))).toBe(false);
    const [h, p] = token().split('.') as [string, string, string];
    const der = sign('sha256', Buffer.from(`${h}.${p}`), pairs.p256.privateKey);
    expect(await accepts(`${h}.${p}.${b64(der)}`)).toBe(false);
    const raw = sign('sha256', Buffer.from(`${h}.${p}`), { key: pairs.p256.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(await accepts(`${h}.${p}.${b64(raw)}`)).toBe(true);
    expect(await accepts(`${h}.${p}.${b64(raw.subarray(0, 63))}`)).toBe(false);
    expect(await accepts(`${h}.${p}.${b64(Buffer.concat([raw, Buffer.from([0])]))}`)).toBe(false);
    expect(await accepts(`${h}.${p}.${b64(Buffer.alloc(64))}`)).toBe(false);
  });
});

describe('each part must be the canonical base64url of a JSON object', () => {
  it('refuses padding, the standard alphabet, stray bits, whitespace and empty parts in any part', async () => {
    const valid = token();
    expect(await accepts(valid)).toBe(true);
    const parts = valid.split('.') as [string, string, string];
    for (let index = 0; index < 3; index++) {
      const part = parts[index] as string;
      const variants = [
        `${part}=`,
        `${part}==`,
        ` ${part}`,
        `${part.slice(0, 4)}\n${part.slice(4)}`,
        part.replace(/-/g, '+').replace(/_/g, '/') === part ? `${part}+` : part.replace(/-/g, '+').replace(/_/g, '/'),
        '',
      ];
      // The last character with a stray low bit set decodes to the same bytes in Node's lenient decoder.
      if (part.length % 4 !== 0) {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const last = alphabet.indexOf(part.at(-1) as string);
        variants.push(`${part.slice(0, -1)}${alphabet[last ^ 1]}`);
      }
      for (const variant of variants) {
        const mutated = parts.map((p, i) => (i === index ? variant : p)).join('.');
        expect(await accepts(mutated), `part ${index}: ${JSON.stringify(variant.slice(0, 12))}`).toBe(false);
      }
    }
    expect(await accepts(`${valid}.`)).toBe(false);
    expect(await accepts(parts.slice(0, 2).join('.'))).toBe(false);
  });

  it('refuses a header or claims that are not a JSON object, or not UTF-8', async () => {
    for (const text of ['[]', 'null', '"x"', '1', '{', ''])
      expect(await accepts(signedToken(text, JSON.stringify(claims()))), `header ${text}`).toBe(false);
    for (const text of ['[]', 'null', '"x"', '1', '{'])
      expect(await accepts(signedToken(JSON.stringify(header()), text)), `claims ${text}`).toBe(false);
    const claimsText = JSON.stringify(claims({ sub: 'SUB' }));
    const bytes = Buffer.from(claimsText);
    bytes[bytes.indexOf('SUB')] = 0xff;
    const input = `${b64(JSON.stringify(header()))}.${b64(bytes)}`;
    const signature = sign('sha256', Buffer.from(input), { key: pairs.p256.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(await accepts(`${input}.${b64(signature)}`)).toBe(false);
  });

  it('refuses crit, b64 and headers that name a key, and a __proto__ that hides alg', async () => {
    for (const extra of [
      { crit: ['exp'] },
      { crit: [] },
      { b64: true },
      { jku: 'https://x' },
      { x5c: [] },
      { jwk: {} },
    ])
      expect(await accepts(token(extra)), JSON.stringify(extra)).toBe(false);
    const hidden = signedToken('{"__proto__":{"alg":"ES256"},"typ":"at+jwt","kid":"p256"}', JSON.stringify(claims()));
    expect(await accepts(hidden)).toBe(false);
  });
});

describe('claims at their edges (clock tolerance 5 s)', () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['exp 4 s ago', { iat: now - 200, exp: now - 4 }, true],
    ['exp 5 s ago', { iat: now - 200, exp: now - 5 }, false],
    ['nbf 5 s ahead', { nbf: now + 5 }, true],
    ['nbf 6 s ahead', { nbf: now + 6 }, false],
    ['iat 5 s ahead', { iat: now + 5, exp: now + 300 }, true],
    ['iat 6 s ahead', { iat: now + 6, exp: now + 300 }, false],
    ['a lifetime of 300 s', { iat: now - 10, exp: now + 290 }, true],
    ['a lifetime of 301 s', { iat: now - 10, exp: now + 291 }, false],
    ['fractional dates', { iat: now + 0.5, exp: now + 100.5 }, true],
    ['an empty audience list', { aud: [] }, false],
    ['a numeric audience', { aud: 5 }, false],
    ['an audience list with a number', { aud: [audience, 5] }, false],
    ['an issuer list', { iss: [issuer] }, false],
    ['another issuer', { iss: 'https://auth.example/' }, false],
    ['iat as a string', { iat: String(now) }, false],
    ['exp as a string', { exp: String(now + 300) }, false],
    ['nbf as a string', { nbf: '0' }, false],
    ['nbf null', { nbf: null }, false],
    ['a numeric sub', { sub: 7 }, false],
    ['no jti', { jti: undefined }, false],
    ['no iat', { iat: undefined }, false],
    ['no exp', { exp: undefined }, false],
    ['no aud', { aud: undefined }, false],
  ];
  for (const [name, overrides, expected] of cases) {
    it(`${expected ? 'accepts' : 'refuses'} ${name}`, async () => {
      expect(await accepts(token({}, overrides))).toBe(expected);
    });
  }

  it('refuses dates that overflow to Infinity', async () => {
    for (const text of [
      JSON.stringify(claims()).replace(`"exp":${now + 300}`, '"exp":1e400'),
      JSON.stringify(claims()).replace(`"iat":${now}`, '"iat":-1e400'),
    ]) {
      expect(await accepts(signedToken(JSON.stringify(header()), text))).toBe(false);
    }
  });
});

/**
 * The oracle: the verifier as it was before it parsed tokens itself (header checks around jose's
 * jwtVerify, then the claim types, the lifetime and iat not in the future).
 */
async function oracleAccepts(value: string, keys: JSONWebKeySet | JWTVerifyGetKey): Promise<boolean> {
  try {
    const h = decodeProtectedHeader(value) as Record<string, unknown>;
    if (value.split('.').length !== 3) return false;
    if (h.alg !== 'ES256' && h.alg !== 'EdDSA') return false;
    if (typeof h.kid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(h.kid)) return false;
    if (['jku', 'jwk', 'x5u', 'x5c'].some((name) => name in h) || 'crit' in h) return false;
    const { payload } = await jwtVerify(value, typeof keys === 'function' ? keys : createLocalJWKSet(keys), {
      algorithms: ['ES256', 'EdDSA'],
      typ: 'at+jwt',
      issuer,
      audience,
      clockTolerance: 5,
      requiredClaims: ['iss', 'sub', 'aud', 'sid', 'iat', 'exp', 'jti'],
      currentDate,
    });
    const { sub, sid, jti, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string') return false;
    if (typeof iat !== 'number' || typeof exp !== 'number') return false;
    if (exp - iat > 300 || iat > now + 5) return false;
    return true;
  } catch {
    return false;
  }
}

/** jose accepts an `aud` list with a non-string member if another member matches; the verifier does not. */
const audIsStrings = (aud: unknown) => !Array.isArray(aud) || aud.every((a) => typeof a === 'string');

const isCanonical = (value: string) =>
  value.split('.').every((part) => Buffer.from(part, 'base64url').toString('base64url') === part);

describe('differential: the same answer as the jose-based oracle', () => {
  /** Mostly the valid value, sometimes one of the others (`undefined` leaves the field out). */
  const mostly = <T>(valid: T, ...others: T[]) =>
    fc.oneof({ arbitrary: fc.constant(valid), weight: 8 }, { arbitrary: fc.constantFrom(...others), weight: 1 });
  const headerArb = fc.record({
    alg: mostly<unknown>('ES256', 'EdDSA', 'ES384', 'HS256', 'none', 'es256', undefined),
    typ: mostly<unknown>('at+jwt', 'AT+JWT', 'application/at+jwt', 'JWT', 'at+jwt;x', 5, undefined),
    kid: mostly<unknown>('p256', 'ed', 'p384', 'attacker', 'missing', '../x', '', undefined),
    b64: mostly<unknown>(undefined, true, false),
    crit: mostly<unknown>(undefined, ['b64'], []),
    jku: mostly<unknown>(undefined, 'https://evil.example/jwks'),
  });
  const dateArb = (valid: number) =>
    fc.oneof(
      { arbitrary: fc.constant(valid), weight: 6 },
      { arbitrary: fc.integer({ min: now - 400, max: now + 400 }), weight: 2 },
      {
        arbitrary: fc.constantFrom<unknown>(
          now - 5,
          now - 4,
          now + 5,
          now + 6,
          now + 0.5,
          '1800000000',
          null,
          undefined,
        ),
        weight: 1,
      },
    );
  const claimsArb = fc.record({
    iss: mostly<unknown>(issuer, `${issuer}/`, [issuer], 1, undefined),
    aud: mostly<unknown>(audience, [audience], ['x', audience], [], 'x', 5, [5], [audience, 5], undefined),
    sub: mostly<unknown>('user', 7, null, '', undefined),
    sid: mostly<unknown>('session', 7, undefined),
    jti: mostly<unknown>('id', false, undefined),
    iat: dateArb(now - 10),
    exp: dateArb(now + 200),
    nbf: mostly<unknown>(undefined, now - 10, now + 5, now + 6, 'x'),
  });
  const mutationArb = fc.oneof(
    { arbitrary: fc.constant(null), weight: 3 },
    {
      arbitrary: fc.record({ at: fc.nat(), char: fc.constantFrom('A', 'b', '-', '_', '=', '+', '.', ' ') }),
      weight: 1,
    },
  );

  it('accepts exactly what the oracle accepts, except non-canonical base64url, b64 and a mixed aud list, which it refuses', async () => {
    let acceptedByBoth = 0;
    await fc.assert(
      fc.asyncProperty(
        headerArb,
        claimsArb,
        mostly<KeyName>('p256', 'ed', 'p384', 'attacker'),
        mutationArb,
        fc.boolean(),
        async (h, c, keyName, mutation, naive) => {
          let value = signedToken(JSON.stringify(h), JSON.stringify(c), keyName);
          if (mutation !== null) {
            const at = mutation.at % value.length;
            value = value.slice(0, at) + mutation.char + value.slice(at + 1);
          }
          const keys = naive ? naiveGetter : jwks;
          const ours = await accepts(value, keys);
          const oracle = await oracleAccepts(value, keys);
          if (ours) expect(oracle, value).toBe(true);
          if (oracle && isCanonical(value) && h.b64 === undefined && audIsStrings(c.aud))
            expect(ours, value).toBe(true);
          if (ours && oracle) acceptedByBoth++;
        },
      ),
      { numRuns: 1500, seed: 20261207 },
    );
    // The generator must reach valid tokens, not only refusals.
    expect(acceptedByBoth).toBeGreaterThan(10);
  });
});

it('the oracle check is not vacuous: it accepts a valid token and refuses a tampered one', async () => {
  const valid = token();
  expect(await oracleAccepts(valid, jwks)).toBe(true);
  const [h, , s] = valid.split('.');
  const tampered = `${h}.${b64(JSON.stringify(claims({ sub: 'other' })))}.${s}`;
  expect(await oracleAccepts(tampered, jwks)).toBe(false);
});

describe('a verifier remembers verified tokens without changing any answer', () => {
  /** A key set the test can change: a kid removed, or re-imported as a new key object of the same key. */
  function mutableKeySet() {
    const current = new Map<string, KeyObject>([
      ['p256', pairs.p256.publicKey],
      ['ed', pairs.ed.publicKey],
    ]);
    const getKey: JWTVerifyGetKey = async (h) => {
      const key = current.get(h.kid as string);
      if (key === undefined) throw new Error('no such kid');
      return key;
    };
    return {
      getKey,
      remove: (kid: 'p256' | 'ed') => current.delete(kid),
      reimport: (kid: 'p256' | 'ed') =>
        current.set(kid, createPublicKey({ key: publicJwk(kid) as JsonWebKey, format: 'jwk' })),
      /** The kid now names another key of the same type (the attacker's P-256 key, or a new Ed25519 key). */
      rebind: (kid: 'p256' | 'ed') =>
        current.set(kid, kid === 'p256' ? pairs.attacker.publicKey : generateKeyPairSync('ed25519').publicKey),
    };
  }

  async function outcome(verify: (token: string, at: Date) => Promise<unknown>, value: string, at: Date) {
    try {
      return JSON.stringify(await verify(value, at));
    } catch (error) {
      return `${(error as AccessTokenError).code}: ${(error as Error).message}`;
    }
  }

  it('refuses a remembered token once its kid is gone, and once it has expired', async () => {
    const keySet = mutableKeySet();
    const verify = createAccessTokenVerifier({ jwks: keySet.getKey, issuer, audience });
    const value = token({}, { iat: now - 10, exp: now + 60 });
    expect(await outcome(verify, value, currentDate)).toBe(JSON.stringify(claims({ iat: now - 10, exp: now + 60 })));
    keySet.remove('p256');
    expect(await outcome(verify, value, currentDate)).toBe('invalid_token: No published key has the token kid.');
    keySet.reimport('p256');
    expect(await outcome(verify, value, currentDate)).toMatch(/^\{/);
    keySet.rebind('p256');
    expect(await outcome(verify, value, currentDate)).toBe('invalid_token: The token signature did not verify.');
    keySet.reimport('p256');
    expect(await outcome(verify, value, new Date((now + 65) * 1000))).toBe('invalid_token: The token has expired.');
    expect(await outcome(verify, value, new Date((now + 70) * 1000))).toBe('invalid_token: The token has expired.');
  });

  it('hands out a copy of the claims: a caller changing them changes nothing for the next call', async () => {
    const verify = createAccessTokenVerifier({ jwks, issuer, audience });
    const value = token({}, { aud: [audience, 'other'] });
    for (let call = 0; call < 2; call++) {
      const claimsOut = (await verify(value, currentDate)) as unknown as Record<string, unknown>;
      claimsOut.sub = 'someone-else';
      expect(() => (claimsOut.aud as string[]).push('x')).toThrow(TypeError);
    }
    expect((await verify(value, currentDate)).sub).toBe('user-1');
  });

  it('answers every sequence of calls, clock moves and key changes exactly as a verifier without memory', async () => {
    const pool = [
      token({}, { iat: now - 10, exp: now + 30 }),
      token({}, { iat: now - 10, exp: now + 200, nbf: now + 20 }),
      token({ alg: 'EdDSA', kid: 'ed' }, { iat: now, exp: now + 100 }, 'ed'),
      token({}, {}, 'attacker'),
      token({}, { iat: now + 60, exp: now + 300 }),
    ];
    const step = fc.oneof(
      {
        arbitrary: fc.record({ verify: fc.nat(pool.length - 1), seconds: fc.integer({ min: -40, max: 320 }) }),
        weight: 6,
      },
      { arbitrary: fc.record({ remove: fc.constantFrom<'p256' | 'ed'>('p256', 'ed') }), weight: 1 },
      { arbitrary: fc.record({ reimport: fc.constantFrom<'p256' | 'ed'>('p256', 'ed') }), weight: 1 },
      { arbitrary: fc.record({ rebind: fc.constantFrom<'p256' | 'ed'>('p256', 'ed') }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.integer({ min: 1, max: 3 }), async (steps, size) => {
        const keySet = mutableKeySet();
        const remembering = createAccessTokenVerifier({ jwks: keySet.getKey, issuer, audience, cacheSize: size });
        const plain = createAccessTokenVerifier({ jwks: keySet.getKey, issuer, audience, cacheSize: 0 });
        for (const s of steps) {
          if ('remove' in s) keySet.remove(s.remove);
          else if ('reimport' in s) keySet.reimport(s.reimport);
          else if ('rebind' in s) keySet.rebind(s.rebind);
          else {
            const at = new Date((now + s.seconds) * 1000);
            const value = pool[s.verify] as string;
            expect(await outcome(remembering, value, at)).toBe(await outcome(plain, value, at));
          }
        }
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('refuses a cache size that is not a whole number >= 0', () => {
    for (const cacheSize of [-1, 1.5, Number.NaN])
      expect(() => createAccessTokenVerifier({ jwks, issuer, audience, cacheSize })).toThrow(TypeError);
  });
});
