import { decodeProtectedHeader, importJWK, type JWTPayload, jwtVerify } from 'jose';
import { recordAuditEvent } from '../audit/repository.js';
import type { Config } from '../config.js';
import { randomBase64url, sha256 } from '../crypto.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import {
  bindSession,
  clearDbscChallenge,
  rotateBoundCookie,
  storeDbscChallenge,
} from '../sessions/device-binding-repository.js';
import { challengeHeader, registrationHeader } from './protocol.js';

/** A fresh short-lived bound cookie: its value (for `Set-Cookie`) and when it dies. */
export interface BoundCookie {
  value: string;
  expiresAt: Date;
}

function newBoundCookie(config: Pick<Config, 'dbsc'>, now: Date): BoundCookie {
  return { value: randomBase64url(32), expiresAt: new Date(now.getTime() + config.dbsc.cookieLifetime * 1000) };
}

/**
 * After a sign-in: a registration challenge and authorization value bound to the new session, and
 * the `Secure-Session-Registration` header that offers them. A browser without DBSC ignores it.
 */
export async function offerRegistration(
  deps: Pick<Deps, 'db' | 'config'>,
  sessionId: string,
  now: Date,
): Promise<string> {
  const challenge = randomBase64url(32);
  const authorization = randomBase64url(16);
  await storeDbscChallenge(deps.db, sessionId, {
    challenge,
    authorization,
    expiresAt: new Date(now.getTime() + deps.config.challengeTtl * 1000),
  });
  return registrationHeader(challenge, authorization);
}

/**
 * The registration: the proof must be a `dbsc+jwt` signed with ES256 by the P-256 key in its own
 * `jwk` header (proof of possession of the new key), with `jti` = the session's pending challenge and
 * `authorization` = the value offered with it (in the JWT, or else the `Authorization` header, as
 * earlier drafts sent it). The session is then bound to the key; the first bound cookie is returned.
 */
export async function registerDeviceKey(
  deps: Pick<Deps, 'db' | 'config' | 'logger'>,
  input: {
    sessionId: string;
    userId: string;
    proof: string;
    authorizationHeader: string | null;
    context: { ipAddress: string | null; userAgent: string | null };
  },
  now: Date,
): Promise<BoundCookie> {
  const { db, logger } = deps;
  let jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  let payload: JWTPayload;
  try {
    const header = decodeProtectedHeader(input.proof);
    const candidate = header.jwk;
    if (
      header.typ !== 'dbsc+jwt' ||
      header.alg !== 'ES256' ||
      !candidate ||
      candidate.kty !== 'EC' ||
      candidate.crv !== 'P-256' ||
      'd' in candidate
    ) {
      throw new Error('not an ES256 dbsc+jwt with a public P-256 jwk');
    }
    jwk = { kty: 'EC', crv: 'P-256', x: String(candidate.x), y: String(candidate.y) };
    ({ payload } = await jwtVerify(input.proof, await importJWK(jwk, 'ES256'), {
      typ: 'dbsc+jwt',
      algorithms: ['ES256'],
      currentDate: now,
    }));
  } catch (error) {
    logger.info({ err: error }, 'DBSC registration proof rejected');
    throw new AuthError('registration_failed', 'The session registration proof could not be verified.', {
      cause: error,
    });
  }
  const authorization = typeof payload.authorization === 'string' ? payload.authorization : input.authorizationHeader;
  if (typeof payload.jti !== 'string' || authorization === null) throw new AuthError('invalid_challenge');
  const cookie = newBoundCookie(deps.config, now);
  // Retried whole after a serialization failure; the audit event's observers (metrics) see it once committed.
  const bound = await inTransaction(db, async (trx) => {
    const done = await bindSession(trx, input.sessionId, {
      challenge: payload.jti as string,
      authorization,
      publicKey: JSON.stringify(jwk),
      cookieHash: sha256(cookie.value),
      cookieExpiresAt: cookie.expiresAt,
      now,
    });
    if (done)
      await recordAuditEvent(
        trx,
        {
          type: 'session_device_bound',
          userId: input.userId,
          sessionId: input.sessionId,
          ...input.context,
          details: { algorithm: 'ES256' },
        },
        now,
      );
    return done;
  });
  if (!bound) throw new AuthError('invalid_challenge');
  return cookie;
}

/** The first step of a refresh: a new single-use challenge for the bound session, as its header. */
export async function issueRefreshChallenge(
  deps: Pick<Deps, 'db' | 'config'>,
  sessionId: string,
  now: Date,
): Promise<string> {
  const challenge = randomBase64url(32);
  await storeDbscChallenge(deps.db, sessionId, {
    challenge,
    authorization: null,
    expiresAt: new Date(now.getTime() + deps.config.challengeTtl * 1000),
  });
  return challengeHeader(challenge, sessionId);
}

/**
 * The second step: the proof must be a `dbsc+jwt` signed with ES256 by the key the session is bound
 * to (a `jwk` in its header is ignored: only the stored key counts), with `jti` = the pending
 * challenge. Only then a fresh bound cookie. A proof that does not verify burns the challenge.
 */
export async function refreshBoundCookie(
  deps: Pick<Deps, 'db' | 'config' | 'logger'>,
  input: { sessionId: string; publicKey: string; proof: string },
  now: Date,
): Promise<BoundCookie> {
  const { db, logger } = deps;
  let payload: JWTPayload;
  try {
    const key = await importJWK(JSON.parse(input.publicKey), 'ES256');
    ({ payload } = await jwtVerify(input.proof, key, { typ: 'dbsc+jwt', algorithms: ['ES256'], currentDate: now }));
  } catch (error) {
    await clearDbscChallenge(db, input.sessionId);
    logger.warn({ err: error, sessionId: input.sessionId }, 'DBSC refresh proof rejected');
    throw new AuthError('verification_failed', 'The session refresh proof could not be verified.', { cause: error });
  }
  if (typeof payload.jti !== 'string') throw new AuthError('invalid_challenge');
  const cookie = newBoundCookie(deps.config, now);
  const rotated = await rotateBoundCookie(db, input.sessionId, {
    challenge: payload.jti,
    cookieHash: sha256(cookie.value),
    cookieExpiresAt: cookie.expiresAt,
    now,
  });
  if (!rotated) throw new AuthError('invalid_challenge');
  return cookie;
}
