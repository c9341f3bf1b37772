/**
 * Verifying access tokens in another service: the small public entry point of the token model
 * (README "Access tokens"), published as the `passkey-auth-verify` package (and re-exported as
 * `passkey-auth-server/verify`). Its one dependency is `jose`, which fetches and caches the JWKS;
 * the token itself is parsed and checked here and its signature verified synchronously with
 * `node:crypto` (no WebCrypto promise per token). {@link createAccessTokenVerifier} and
 * {@link verifyAccessToken} check a token locally against the JWKS; {@link introspect} asks the auth
 * server (RFC 7662) whether a token is still active, which also sees a revoked session at once.
 *
 * @module
 */
import { createPublicKey, type JsonWebKey, KeyObject, verify as verifySignature } from 'node:crypto';
import {
  type CompactJWSHeaderParameters,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';

/** The only algorithms an access token may be signed with: asymmetric, as the auth server signs. */
export const accessTokenAlgorithms = ['ES256', 'EdDSA'] as const;
type AccessTokenAlgorithm = (typeof accessTokenAlgorithms)[number];

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  /** The issuer: the auth server's canonical origin. */
  iss: string;
  /** The user id. */
  sub: string;
  aud: string | string[];
  /** The id of the session that minted the token (for `POST /auth/introspect` and audit). */
  sid: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** The token's unique id. */
  jti: string;
}

/**
 * Where the signing keys come from: the auth server's JWKS URL (fetched with a cache, only ever this
 * URL), a JWKS object, or a key getter such as one from jose's `createRemoteJWKSet`.
 */
export type JwksSource = string | URL | JSONWebKeySet | JWTVerifyGetKey;

/** Options of {@link verifyAccessToken} and {@link createAccessTokenVerifier}. */
export interface VerifyAccessTokenOptions {
  jwks: JwksSource;
  /** The auth server's first configured origin, e.g. `https://auth.example.com`. */
  issuer: string;
  /** The audience (or audiences) this service accepts; the token's `aud` must name one of them. */
  audience: string | string[];
  /** Leeway for `exp`, `nbf` and `iat` against this machine's clock, in seconds (default 5). */
  clockTolerance?: number;
  /** The time to verify at (default: now). */
  currentDate?: Date;
  /**
   * How many verified tokens a verifier from {@link createAccessTokenVerifier} remembers (default
   * 1024; 0 turns it off). A client sends the same token for its whole lifetime, so a remembered
   * token skips only the parsing and the signature check: its key is still asked of the key set at
   * every call and must be the very key that verified it (a key gone from the JWKS, or re-fetched,
   * means a full check again), and `exp`, `nbf` and `iat` are checked against the clock at every
   * call. {@link verifyAccessToken} never remembers.
   */
  cacheSize?: number;
}

/**
 * Why a token was refused. `invalid_token` (answer 401 with `WWW-Authenticate: Bearer
 * error="invalid_token"`) or `jwks_unavailable` (the keys could not be fetched: answer 503).
 * The jose error, if any, is `cause`; its text is for logs, not for clients.
 */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
  readonly code: 'invalid_token' | 'jwks_unavailable';

  constructor(code: 'invalid_token' | 'jwks_unavailable', message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

const maxTokenLength = 8192;
const maxLifetime = 300;
const kidPattern = /^[A-Za-z0-9_-]{1,64}$/;
// Headers that would let a token name its own key or where to fetch one: never honoured, refused.
const keyLocatingHeaders = ['jku', 'jwk', 'x5u', 'x5c'];

/**
 * Returns a function that verifies access tokens against one JWKS, keeping that JWKS cached (for a
 * URL: up to 5 minutes, re-fetched at most every 30 s when an unknown `kid` appears, which is how a
 * rotated key is picked up). Prefer this to {@link verifyAccessToken} in a long-running service.
 *
 * @example
 * const verify = createAccessTokenVerifier({
 *   jwks: 'https://auth.example.com/.well-known/jwks.json',
 *   issuer: 'https://auth.example.com',
 *   audience: 'https://auth.example.com',
 * });
 * const claims = await verify(bearerToken); // throws AccessTokenError
 */
export function createAccessTokenVerifier(
  options: VerifyAccessTokenOptions,
): (token: string, currentDate?: Date) => Promise<AccessTokenClaims> {
  const getKey = keyGetterOf(options.jwks);
  const cacheSize = options.cacheSize ?? 1024;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) throw new TypeError('cacheSize must be an integer >= 0');
  // Least recently used first: a hit moves its token to the end.
  const verified = new Map<string, VerifiedToken>();
  return async (token, currentDate = options.currentDate) => {
    const remembered = cacheSize > 0 ? verified.get(token) : undefined;
    if (remembered !== undefined) {
      verified.delete(token);
      // The key set must still give the very key that verified it (keyFor's checks, without its array).
      let stillItsKey: boolean;
      try {
        stillItsKey =
          (await getKey(remembered.header as unknown as CompactJWSHeaderParameters, remembered.input)) ===
          remembered.key;
      } catch (cause) {
        stillItsKey = (await keysOfFailure(cause, options)).includes(remembered.key);
      }
      if (stillItsKey) {
        checkTimes(remembered.claims, options.clockTolerance, currentDate);
        verified.set(token, remembered);
        return { ...remembered.claims };
      }
    }
    const result = await verifySigned(getKey, token, options);
    checkTimes(result.claims, options.clockTolerance, currentDate);
    if (cacheSize > 0) {
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string);
      verified.set(token, result);
    }
    return { ...result.claims };
  };
}

/**
 * Verifies an access token from the auth server and returns its claims, or throws an
 * {@link AccessTokenError}. Checks, in order: the compact JWS shape (three parts, each the canonical
 * unpadded base64url of its bytes; header and claims strict UTF-8 JSON objects); the header (`alg`
 * ES256 or EdDSA only, `typ` `at+jwt`, a well-formed `kid`, no `jku`/`jwk`/`x5u`/`x5c`, no `crit`
 * or `b64`); the 64-byte signature with the public key of that `kid` from the JWKS, which must be a
 * P-256 key for ES256 and an Ed25519 key for EdDSA; then the claim types, `iss`, `aud`, `exp`,
 * `nbf`, `iat` (with a small clock tolerance), and a lifetime of at most 300 s. Nothing is fetched
 * except the configured JWKS URL.
 *
 * A token stays valid until its `exp` even if its session is revoked; a service that must see a
 * revocation at once asks `POST /auth/introspect`.
 *
 * @example
 * import { verifyAccessToken } from './server/verify.js';
 * const claims = await verifyAccessToken(token, {
 *   jwks: 'https://auth.example.com/.well-known/jwks.json',
 *   issuer: 'https://auth.example.com',
 *   audience: 'https://auth.example.com',
 * });
 * console.log(claims.sub, claims.sid);
 */
export async function verifyAccessToken(token: string, options: VerifyAccessTokenOptions): Promise<AccessTokenClaims> {
  const { claims } = await verifySigned(sharedKeyGetterOf(options.jwks), token, options);
  checkTimes(claims, options.clockTolerance, options.currentDate);
  return claims;
}

/** A token whose shape, header, signature and time-independent claims are checked, with the key that verified it. */
interface VerifiedToken {
  header: Record<string, unknown>;
  input: FlattenedJWSInput;
  key: unknown;
  claims: AccessTokenClaims & { nbf?: number };
}

/** Everything but the clock: the shape, the header, the signature, the claim types, `iss`, `aud` and the lifetime. */
async function verifySigned(
  getKey: JWTVerifyGetKey,
  token: string,
  options: VerifyAccessTokenOptions,
): Promise<VerifiedToken> {
  const { issuer, audience } = options;
  if (typeof token !== 'string' || token.length === 0 || token.length > maxTokenLength) {
    throw new AccessTokenError('invalid_token', 'The token is missing or too long.');
  }
  const parts = token.split('.');
  if (parts.length !== 3) throw new AccessTokenError('invalid_token', 'The token is not a compact JWS.');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = jsonObjectOf(encodedHeader);
  if (header === null) throw new AccessTokenError('invalid_token', 'The token is not a JWS.');
  const alg = header.alg as AccessTokenAlgorithm;
  if (!accessTokenAlgorithms.includes(alg))
    throw new AccessTokenError('invalid_token', 'The token algorithm is not allowed.');
  if (typeof header.kid !== 'string' || !kidPattern.test(header.kid))
    throw new AccessTokenError('invalid_token', 'The token kid is missing or malformed.');
  if (keyLocatingHeaders.some((name) => Object.hasOwn(header, name)))
    throw new AccessTokenError('invalid_token', 'The token names its own key.');
  if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64'))
    throw new AccessTokenError('invalid_token', 'The token has critical header parameters.');
  if (typeof header.typ !== 'string' || !accessTokenTypes.has(header.typ.toLowerCase()))
    throw new AccessTokenError('invalid_token', 'The token type is not at+jwt.');
  const signature = canonicalBase64url(encodedSignature);
  if (signature === null || signature.length !== signatureLength)
    throw new AccessTokenError('invalid_token', 'The token signature is malformed.');

  const input = { protected: encodedHeader, payload: encodedPayload, signature: encodedSignature };
  const keys = await keyFor(getKey, header, input, options);
  const data = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'latin1');
  const fitting = keys.filter((candidate) => publicKeyOf(candidate, alg) !== null);
  if (fitting.length === 0)
    throw new AccessTokenError('invalid_token', 'The key of the token kid does not fit its algorithm.');
  const key = fitting.find((candidate) =>
    signatureVerifies(alg, publicKeyOf(candidate, alg) as KeyObject, data, signature),
  );
  if (key === undefined) throw new AccessTokenError('invalid_token', 'The token signature did not verify.');

  const payload = jsonObjectOf(encodedPayload);
  if (payload === null) throw new AccessTokenError('invalid_token', 'The token claims are not a JSON object.');
  const { iss, sub, aud, sid, jti, iat, exp, nbf } = payload;
  if (
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    typeof sid !== 'string' ||
    typeof jti !== 'string' ||
    !isNumericDate(iat) ||
    !isNumericDate(exp) ||
    (nbf !== undefined && !isNumericDate(nbf)) ||
    !(typeof aud === 'string' || (Array.isArray(aud) && aud.every((a) => typeof a === 'string')))
  ) {
    throw new AccessTokenError('invalid_token', 'The token claims are missing or have the wrong types.');
  }
  if (iss !== issuer) throw new AccessTokenError('invalid_token', 'The token issuer is not the expected one.');
  const accepted = typeof audience === 'string' ? [audience] : audience;
  if (!accepted.some((a) => (typeof aud === 'string' ? aud === a : aud.includes(a))))
    throw new AccessTokenError('invalid_token', 'The token audience is not this service.');
  if (exp - iat > maxLifetime)
    throw new AccessTokenError('invalid_token', 'The token lives longer than an access token may.');
  if (Array.isArray(aud)) Object.freeze(aud);
  return { header, input, key, claims: payload as unknown as VerifiedToken['claims'] };
}

/** The checks against the clock: `exp`, `nbf` and `iat`, each with the clock tolerance. */
function checkTimes(claims: VerifiedToken['claims'], clockTolerance = 5, currentDate?: Date): void {
  const now = Math.floor((currentDate ?? new Date()).getTime() / 1000);
  if (!Number.isFinite(now) || !Number.isFinite(clockTolerance) || clockTolerance < 0)
    throw new TypeError('currentDate and clockTolerance must be finite (clockTolerance >= 0)');
  const { exp, nbf, iat } = claims;
  if (exp <= now - clockTolerance) throw new AccessTokenError('invalid_token', 'The token has expired.');
  if (nbf !== undefined && nbf > now + clockTolerance)
    throw new AccessTokenError('invalid_token', 'The token is not valid yet.');
  // A token issued in the future was not issued by this clock.
  if (iat > now + clockTolerance) throw new AccessTokenError('invalid_token', 'The token was issued in the future.');
}

/** `typ` as jose compares it: case-insensitive, with or without the `application/` prefix. */
const accessTokenTypes = new Set(['at+jwt', 'application/at+jwt']);
/** ES256 (IEEE P1363 r||s) and Ed25519 signatures are both 64 bytes. */
const signatureLength = 64;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes of a base64url part, or `null` unless it is the one canonical unpadded encoding of them. */
function canonicalBase64url(part: string): Buffer | null {
  if (part.length === 0) return null;
  const bytes = Buffer.from(part, 'base64url');
  // Node's decoder skips characters outside the alphabet and ignores stray bits; re-encoding shows both.
  return bytes.toString('base64url') === part ? bytes : null;
}

/** A base64url part holding a JSON object (strict UTF-8), or `null`. */
function jsonObjectOf(part: string): Record<string, unknown> | null {
  const bytes = canonicalBase64url(part);
  if (bytes === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The key (or keys, when a JWKS holds several for the `kid`) the key getter gives for this header.
 * A failure to fetch a remote JWKS is `jwks_unavailable`; anything else (no such `kid`) is
 * `invalid_token`.
 */
async function keyFor(
  getKey: JWTVerifyGetKey,
  header: Record<string, unknown>,
  input: FlattenedJWSInput,
  options: VerifyAccessTokenOptions,
): Promise<unknown[]> {
  try {
    return [await getKey(header as unknown as CompactJWSHeaderParameters, input)];
  } catch (cause) {
    return keysOfFailure(cause, options);
  }
}

/**
 * What a key getter's failure means: the keys, when a JWKS holds several for the `kid`; else
 * `jwks_unavailable` when a remote JWKS could not be fetched, and `invalid_token` otherwise.
 */
async function keysOfFailure(cause: unknown, options: VerifyAccessTokenOptions): Promise<unknown[]> {
  if (cause instanceof errors.JWKSMultipleMatchingKeys) {
    const keys: unknown[] = [];
    for await (const key of cause as unknown as AsyncIterable<unknown>) keys.push(key);
    return keys;
  }
  if (isRemote(options.jwks) && isJwksFailure(cause))
    throw new AccessTokenError('jwks_unavailable', 'The signing keys could not be fetched.', { cause });
  throw new AccessTokenError('invalid_token', 'No published key has the token kid.', { cause });
}

const importedKeys = new WeakMap<object, KeyObject | null>();

/**
 * A key from the getter as a public `KeyObject` of the curve `alg` needs (P-256 for ES256, Ed25519
 * for EdDSA), or `null`: a private or secret key, a JWK with private parts, any other curve or type.
 * Converted once per key object (a JWKS getter hands out the same imported key every time).
 */
function publicKeyOf(key: unknown, alg: AccessTokenAlgorithm): KeyObject | null {
  if (typeof key !== 'object' || key === null || key instanceof Uint8Array) return null;
  let publicKey = importedKeys.get(key);
  if (publicKey === undefined) {
    publicKey = importPublicKey(key);
    importedKeys.set(key, publicKey);
  }
  if (publicKey === null) return null;
  const fits =
    alg === 'ES256'
      ? publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1'
      : publicKey.asymmetricKeyType === 'ed25519';
  return fits ? publicKey : null;
}

function importPublicKey(key: object): KeyObject | null {
  try {
    if (key instanceof KeyObject) return key.type === 'public' ? key : null;
    if (key instanceof globalThis.CryptoKey) {
      return key.type === 'public' && key.usages.includes('verify') ? KeyObject.from(key) : null;
    }
    const jwk = key as JsonWebKey;
    if (typeof jwk.kty !== 'string' || 'd' in jwk) return null;
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return null;
  }
}

function signatureVerifies(alg: AccessTokenAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return alg === 'ES256'
      ? verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : verifySignature(null, data, key, signature);
  } catch {
    return false;
  }
}

function isJwksFailure(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError)
    return error.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set/.test(error.message);
  // With a remote JWKS, anything but a JOSE error is the key fetch failing (network, DNS).
  return !(error instanceof errors.JOSEError);
}

function isRemote(jwks: JwksSource): jwks is string | URL {
  return typeof jwks === 'string' || jwks instanceof URL;
}

function keyGetterOf(jwks: JwksSource): JWTVerifyGetKey {
  if (typeof jwks === 'function') return jwks;
  if (typeof jwks === 'string' || jwks instanceof URL) {
    return createRemoteJWKSet(jwksUrl(jwks), {
      cacheMaxAge: 300_000,
      cooldownDuration: 30_000,
      timeoutDuration: 5_000,
    });
  }
  return createLocalJWKSet(jwks);
}

/** {@link verifyAccessToken} keeps one remote key set per URL (a few at most), so the JWKS is cached between calls. */
const remoteKeySets = new Map<string, JWTVerifyGetKey>();
const maxRemoteKeySets = 16;

function sharedKeyGetterOf(jwks: JwksSource): JWTVerifyGetKey {
  if (typeof jwks !== 'string' && !(jwks instanceof URL)) return keyGetterOf(jwks);
  const key = jwksUrl(jwks).href;
  let getter = remoteKeySets.get(key);
  if (getter === undefined) {
    if (remoteKeySets.size >= maxRemoteKeySets) remoteKeySets.delete(remoteKeySets.keys().next().value as string);
    getter = keyGetterOf(jwks);
    remoteKeySets.set(key, getter);
  }
  return getter;
}

/** The JWKS URL: https, or http only on a loopback address (development and tests). */
function jwksUrl(value: string | URL): URL {
  return loopbackOrHttps(value, 'JWKS URL');
}

function loopbackOrHttps(value: string | URL, what: string): URL {
  const url = new URL(value);
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError(`The ${what} must be https (http only on localhost)`);
  }
  return url;
}

/** The answer of `POST /auth/introspect` (RFC 7662). */
export type IntrospectionResult =
  | { active: false }
  | {
      active: true;
      /** The user id. */
      sub: string;
      /** The session id. */
      sid: string;
      username: string;
      iss: string;
      aud: string | string[];
      iat: number;
      exp: number;
      jti: string;
      token_type: 'Bearer';
    };

/** Options of {@link introspect}. */
export interface IntrospectOptions {
  /** The introspection endpoint, e.g. `https://auth.example.com/auth/introspect` (https, or http on loopback only). */
  endpoint: string | URL;
  /** The auth server's `INTROSPECTION_SECRET`, sent as `Authorization: Bearer <secret>`. */
  secret: string;
  /** Bound on the request, in milliseconds (default 5000). */
  timeout?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/**
 * Why {@link introspect} has no answer: `unauthorized` (the server refused the secret: a
 * configuration error on this side) or `unavailable` (the server could not be reached or answered
 * with an error; answer 503, or fall back to local verification).
 */
export class IntrospectionError extends Error {
  override readonly name = 'IntrospectionError';
  readonly code: 'unauthorized' | 'unavailable';

  constructor(code: 'unauthorized' | 'unavailable', message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * Asks the auth server whether an access token is active (RFC 7662 token introspection): unlike
 * {@link verifyAccessToken}, this sees a revoked session or a disabled user at once, at the cost of
 * one request per call. Returns `{active: false}` for any token that is not (expired, forged,
 * revoked); throws an {@link IntrospectionError} when there is no answer.
 *
 * @example
 * const result = await introspect(bearerToken, {
 *   endpoint: 'https://auth.example.com/auth/introspect',
 *   secret: process.env.INTROSPECTION_SECRET!,
 * });
 * if (!result.active) return new Response(null, { status: 401 });
 * console.log(result.sub, result.username);
 */
export async function introspect(token: string, options: IntrospectOptions): Promise<IntrospectionResult> {
  const { secret, timeout = 5000, fetch: fetchImpl = fetch } = options;
  const endpoint = loopbackOrHttps(options.endpoint, 'introspection endpoint');
  if (typeof token !== 'string' || token.length === 0 || token.length > maxTokenLength) return { active: false };
  let response: Response;
  try {
    response = await fetchImpl(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token }).toString(),
      signal: AbortSignal.timeout(timeout),
      redirect: 'error',
    });
  } catch (cause) {
    throw new IntrospectionError('unavailable', 'The introspection endpoint could not be reached.', { cause });
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new IntrospectionError('unauthorized', 'The auth server refused the introspection secret.');
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new IntrospectionError('unavailable', `The introspection endpoint answered ${response.status}.`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (cause) {
    throw new IntrospectionError('unavailable', 'The introspection endpoint did not answer JSON.', { cause });
  }
  if (typeof body !== 'object' || body === null || typeof (body as { active?: unknown }).active !== 'boolean') {
    throw new IntrospectionError('unavailable', 'The introspection answer has no active field.');
  }
  return (body as { active: boolean }).active ? (body as IntrospectionResult) : { active: false };
}
