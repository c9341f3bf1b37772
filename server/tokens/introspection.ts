import { errors, type JWTVerifyGetKey } from 'jose';
import type { IntrospectionResponse } from '../contract/wire.js';
import { bytesEqual, sha256 } from '../crypto.js';
import { AuthError } from '../errors.js';
import { liveAt } from '../sessions/lifetime.js';
import { findLiveSessionOfToken } from '../sessions/repository.js';
import { AccessTokenError, createAccessTokenVerifier } from '../verify.js';
import type { TokenDeps } from './keys.js';

/** The RFC 7662 answer. */
export type IntrospectionResult = IntrospectionResponse;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether the `Authorization` header carries the introspection secret, as `Bearer <secret>` or as
 * the password of `Basic` (any client id). Compared in constant time, on hashes so that the length
 * does not leak either. Always `false` when no secret is configured.
 */
export function isIntrospectionClient(secret: string | null, authorization: string | undefined): boolean {
  if (secret === null || authorization === undefined) return false;
  const match = /^(Bearer|Basic)\s+(\S+)$/i.exec(authorization.trim());
  if (!match) return false;
  let presented = match[2] as string;
  if ((match[1] as string).toLowerCase() === 'basic') {
    const decoded = Buffer.from(presented, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    presented = decoded.slice(colon + 1);
    // RFC 6749 §2.3.1: client credentials in Basic are form-urlencoded.
    try {
      presented = decodeURIComponent(presented.replace(/\+/g, ' '));
    } catch {
      return false;
    }
  }
  return bytesEqual(sha256(presented), sha256(secret));
}

/**
 * Token introspection for resource services that must see a revocation at once (RFC 7662). The
 * caller authenticates with the service secret (else `unauthenticated`); then the token is verified
 * like any resource service would (signature against the published keys, `typ`, `iss`, `aud`,
 * `exp`) and its session looked up in one query: `{active: false}` as soon as the session is revoked
 * or expired, or the user disabled.
 */
export async function introspectToken(
  deps: TokenDeps,
  input: { authorization: string | undefined; token: string },
): Promise<IntrospectionResult> {
  const { db, config, clock, keys } = deps;
  if (!isIntrospectionClient(config.tokens.introspectionSecret, input.authorization)) {
    throw new AuthError('unauthenticated', 'This endpoint needs the introspection secret.');
  }
  const now = clock.now();
  const getKey: JWTVerifyGetKey = async (header) => {
    const found = typeof header.kid === 'string' ? await keys.verificationKey(header.kid) : null;
    if (found === null || found.alg !== header.alg) throw new errors.JWKSNoMatchingKey();
    return found.key;
  };
  const verify = createAccessTokenVerifier({
    jwks: getKey,
    issuer: config.origins[0] as string,
    audience: config.tokens.audience,
  });
  let claims;
  try {
    claims = await verify(input.token, now);
  } catch (error) {
    if (error instanceof AccessTokenError) return { active: false };
    throw error;
  }
  // Only our own signed tokens get here, but a malformed `sub` must never reach the uuid column as a 500.
  if (!uuidPattern.test(claims.sub)) return { active: false };
  const live = await findLiveSessionOfToken(db, claims.sid, claims.sub, liveAt(config.session, now));
  if (live === null) return { active: false };
  return {
    active: true,
    sub: claims.sub,
    sid: claims.sid,
    username: live.username,
    iss: claims.iss,
    aud: claims.aud,
    iat: claims.iat,
    exp: claims.exp,
    jti: claims.jti,
    token_type: 'Bearer',
  };
}
