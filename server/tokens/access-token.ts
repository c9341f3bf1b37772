import { SignJWT } from 'jose';
import { randomBase64url } from '../crypto.js';
import { rotateSessionSecretIfDue, type SessionSecretState } from '../sessions/secret-rotation.js';
import type { Session } from '../sessions/service.js';
import type { User } from '../user.js';
import type { TokenDeps } from './keys.js';

export interface IssuedAccessToken {
  accessToken: string;
  /** Seconds until it expires. */
  expiresIn: number;
  /** The session token after a rotation of its secret (to set as the new cookie), or `null`. */
  rotatedSessionToken: string | null;
}

/**
 * Mints an access token for a live session (the caller has validated it: revoked, expired and
 * disabled-user sessions never get here) and, when the session secret is older than the rotation
 * age, rotates it (server/sessions/secret-rotation.ts).
 *
 * The token: header `alg`, `kid`, `typ: "at+jwt"` (RFC 9068); claims `iss` (the first origin),
 * `aud`, `sub` (user id), `sid` (session id), `iat`, `exp` (iat + lifetime, at most 300 s), `jti`.
 */
export async function issueAccessToken(
  deps: TokenDeps,
  input: { user: User; session: Session; sessionToken: string; secret: SessionSecretState },
): Promise<IssuedAccessToken> {
  const { db, config, clock, keys } = deps;
  const now = clock.now();
  const rotatedSessionToken = await rotateSessionSecretIfDue(
    db,
    { sessionToken: input.sessionToken, state: input.secret, rotationAge: config.session.secretRotationAge },
    now,
  );
  const key = await keys.signingKey();
  const iat = Math.floor(now.getTime() / 1000);
  const lifetime = config.tokens.lifetime;
  const accessToken = await new SignJWT({ sid: input.session.id })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(config.origins[0] as string)
    .setAudience(config.tokens.audience)
    .setSubject(input.user.id)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .setJti(randomBase64url(16))
    .sign(key.privateKey);
  return { accessToken, expiresIn: lifetime, rotatedSessionToken };
}
