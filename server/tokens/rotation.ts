import { recordAuditEvent } from '../audit/repository.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import {
  deleteRetiredSigningKeys,
  insertSigningKey,
  listPublishedSigningKeys,
  lockSigningKeys,
  scheduleRetirement,
} from './key-repository.js';
import { generateSigningKey, maxTokenLifetime } from './keys.js';

/** Leeway for clocks between instances and verifiers, in seconds. */
const clockSkew = 60;
/** Retired keys are deleted this long after retirement (nothing they signed can still verify). */
const retiredKeyRetention = 86_400;

export interface SigningKeyRotation {
  /** The new key (or the one already waiting from an earlier rotation). */
  kid: string;
  /** When it starts signing: after every JWKS cache has had the chance to learn it. */
  activatesAt: Date;
  /** False when a rotation was already pending and nothing was created. */
  created: boolean;
  /** The keys it replaces and when they leave the JWKS. */
  retiring: { kid: string; retiresAt: Date }[];
}

/**
 * Rotates the signing keys without breaking a single token (`npm run admin -- keys:rotate`):
 *
 * 1. The new key is published at once, but signs only from `activatesAt` = now + the JWKS cache age
 *    + the instances' key refresh interval, so every verifier's cached JWKS can know it first.
 * 2. The keys it replaces keep verifying until `activatesAt` + the refresh interval + the longest
 *    token lifetime (300 s) + clock skew, so every token they signed has expired by then.
 *
 * Calling it again while a new key is still waiting creates nothing (two operators, or a retry, do
 * not stack keys). Recorded as `signing_key_rotated` in the audit trail.
 *
 * @example
 * const rotation = await rotateSigningKeys({ db, config, clock: systemClock });
 * console.log(`${rotation.kid} signs from ${rotation.activatesAt.toISOString()}`);
 */
export async function rotateSigningKeys(deps: Pick<Deps, 'db' | 'config' | 'clock'>): Promise<SigningKeyRotation> {
  const { db, clock } = deps;
  const tokens = deps.config.tokens;
  const now = clock.now();
  return inTransaction(db, async (trx) => {
    await lockSigningKeys(trx);
    const rows = await listPublishedSigningKeys(trx, now);
    const pending = rows.find((row) => row.activates_at.getTime() > now.getTime() && row.retires_at === null);
    if (pending) {
      return {
        kid: pending.kid,
        activatesAt: pending.activates_at,
        created: false,
        retiring: rows
          .filter((r) => r.kid !== pending.kid && r.retires_at !== null)
          .map((r) => ({ kid: r.kid, retiresAt: r.retires_at as Date })),
      };
    }
    // With nothing signing yet there is nothing to wait for: the first key signs at once.
    const delay = rows.length === 0 ? 0 : tokens.jwksMaxAge + tokens.keyRefreshInterval;
    const activatesAt = new Date(now.getTime() + delay * 1000);
    const key = await generateSigningKey(tokens.algorithm, tokens.keyEncryptionKey, { createdAt: now, activatesAt });
    await insertSigningKey(trx, key);
    const retiresAt = new Date(
      activatesAt.getTime() + (tokens.keyRefreshInterval + maxTokenLifetime + clockSkew) * 1000,
    );
    const retired = await scheduleRetirement(trx, key.kid, retiresAt);
    await deleteRetiredSigningKeys(trx, new Date(now.getTime() - retiredKeyRetention * 1000));
    await recordAuditEvent(
      trx,
      {
        type: 'signing_key_rotated',
        actor: 'admin',
        details: { kid: key.kid, activatesAt: activatesAt.toISOString(), retiring: retired },
      },
      now,
    );
    return { kid: key.kid, activatesAt, created: true, retiring: retired.map((kid) => ({ kid, retiresAt })) };
  });
}
