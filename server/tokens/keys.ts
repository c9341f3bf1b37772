import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database, SigningKeyRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { openPrivateKey, sealPrivateKey } from './key-encryption.js';
import {
  insertSigningKey,
  listPublishedSigningKeys,
  listUnsealedSigningKeys,
  lockSigningKeys,
  storeSealedPrivateKey,
} from './key-repository.js';

export type SigningAlgorithm = 'ES256' | 'EdDSA';
export type TokenConfig = Config['tokens'];

/** The longest access token lifetime any instance may configure (the contract's 300 s). */
export const maxTokenLifetime = 300;

/** A public key as the JWKS publishes it: no private part, with `kid`, `alg` and `use`. */
export interface PublicSigningJwk {
  kty: string;
  crv: string;
  x: string;
  y?: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
}

/** A key that signs access tokens now. */
export interface ActiveSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
}

/**
 * The signing keys of one app instance, read from the database (which every instance shares) and
 * cached in memory for `keyRefreshInterval` seconds of the injected clock, so a rotation reaches
 * every instance within that interval. Private keys are opened (and, when sealed, decrypted) once
 * per kid.
 */
export interface KeyStore {
  /** The key to sign with now; creates the first key if there is none. */
  signingKey(): Promise<ActiveSigningKey>;
  /** The published public keys (those that sign now, will sign soon or signed recently). */
  publicJwks(): Promise<PublicSigningJwk[]>;
  /** The public key of a published `kid`, or `null` (re-reading the set at most once per few seconds). */
  verificationKey(kid: string): Promise<{ alg: SigningAlgorithm; key: KeyObject } | null>;
}

/** What the token services take: the app's dependencies and this instance's key store. */
export type TokenDeps = Pick<Deps, 'db' | 'config' | 'clock'> & { keys: KeyStore };

const kidPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** The key store of one app instance (see {@link KeyStore}); time comes from `deps.clock` at each call. */
export function createKeyStore(deps: Pick<Deps, 'db' | 'config' | 'clock'>): KeyStore {
  const { db, clock } = deps;
  const tokens = deps.config.tokens;
  let cache: { rows: SigningKeyRow[]; loadedAt: number } | null = null;
  let loading: Promise<SigningKeyRow[]> | null = null;
  const privateKeys = new Map<string, KeyObject>();
  const publicKeys = new Map<string, KeyObject>();

  // Concurrent requests share one read of the key set.
  const reload = (): Promise<SigningKeyRow[]> => {
    loading ??= (async () => {
      const now = clock.now();
      try {
        const rows = await listPublishedSigningKeys(db, now);
        cache = { rows, loadedAt: now.getTime() };
        return rows;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  // The cached rows as they are (no promise to wait for: verificationKey runs per request), or a reload.
  const rowsNow = (now: Date): SigningKeyRow[] | Promise<SigningKeyRow[]> => {
    const age = cache === null ? Infinity : now.getTime() - cache.loadedAt;
    if (cache === null || age < 0 || age >= tokens.keyRefreshInterval * 1000) return reload();
    return cache.rows;
  };

  const isPublished = (row: SigningKeyRow, now: Date) =>
    row.retires_at === null || row.retires_at.getTime() > now.getTime();
  const published = (rows: SigningKeyRow[], now: Date) => rows.filter((row) => isPublished(row, now));
  const publishedRow = (rows: SigningKeyRow[], kid: string, now: Date) =>
    rows.find((row) => row.kid === kid && isPublished(row, now));

  const signingRow = (rows: SigningKeyRow[], now: Date): SigningKeyRow | null => {
    let best: SigningKeyRow | null = null;
    for (const row of published(rows, now)) {
      if (row.activates_at.getTime() > now.getTime()) continue;
      if (best === null || row.activates_at.getTime() >= best.activates_at.getTime()) best = row;
    }
    return best;
  };

  return {
    async signingKey() {
      const now = clock.now();
      let row = signingRow(await rowsNow(now), now);
      if (row === null) {
        await ensureSigningKey(db, tokens, now);
        row = signingRow(await reload(), now);
        if (row === null) throw new Error('No signing key could be created');
      }
      let privateKey = privateKeys.get(row.kid);
      if (privateKey === undefined) {
        privateKey = openSigningKey(row, tokens.keyEncryptionKey);
        privateKeys.set(row.kid, privateKey);
      }
      return { kid: row.kid, alg: row.alg, privateKey };
    },

    async publicJwks() {
      const now = clock.now();
      let rows = published(await rowsNow(now), now);
      if (rows.length === 0) {
        await ensureSigningKey(db, tokens, now);
        rows = published(await reload(), now);
      }
      return rows.map(publicJwkOf);
    },

    async verificationKey(kid) {
      if (!kidPattern.test(kid)) return null;
      const now = clock.now();
      const rows = rowsNow(now);
      let row = publishedRow(rows instanceof Promise ? await rows : rows, kid, now);
      // An unknown kid may be a key another instance just created: re-read, but not on every request.
      if (row === undefined && cache !== null && now.getTime() - cache.loadedAt >= unknownKidReloadMs) {
        row = publishedRow(await reload(), kid, now);
      }
      if (row === undefined) return null;
      let key = publicKeys.get(kid);
      if (key === undefined) {
        key = createPublicKey({ key: publicJwkOf(row) as unknown as JsonWebKey, format: 'jwk' });
        publicKeys.set(kid, key);
      }
      return { alg: row.alg, key };
    },
  };
}

const unknownKidReloadMs = 5_000;

/** The public JWK of a row, built field by field so nothing private can slip into the JWKS. */
export function publicJwkOf(row: SigningKeyRow): PublicSigningJwk {
  const jwk = row.public_jwk as { kty: string; crv: string; x: string; y?: string };
  return {
    kty: jwk.kty,
    crv: jwk.crv,
    x: jwk.x,
    ...(jwk.y === undefined ? {} : { y: jwk.y }),
    kid: row.kid,
    alg: row.alg,
    use: 'sig',
  };
}

function openSigningKey(row: SigningKeyRow, kek: Uint8Array | null): KeyObject {
  let der: Buffer;
  if (row.private_key_encryption === 'aes-256-gcm') {
    if (kek === null) throw new Error(`Signing key ${row.kid} is sealed but TOKEN_KEY_ENCRYPTION_KEY is not set`);
    try {
      der = openPrivateKey(row.private_key, kek, row.kid);
    } catch (error) {
      throw new Error(`Signing key ${row.kid} cannot be opened with TOKEN_KEY_ENCRYPTION_KEY`, { cause: error });
    }
  } else {
    der = Buffer.from(row.private_key);
  }
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/** A fresh key pair as a row: the kid is the RFC 7638 thumbprint, the private key sealed when a KEK is set. */
export async function generateSigningKey(
  alg: SigningAlgorithm,
  kek: Uint8Array | null,
  times: { createdAt: Date; activatesAt: Date },
): Promise<Parameters<typeof insertSigningKey>[1]> {
  const { publicKey, privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const publicJwk: Record<string, unknown> = {
    kty: jwk.kty,
    crv: jwk.crv,
    x: jwk.x,
    ...(jwk.y === undefined ? {} : { y: jwk.y }),
  };
  const kid = await calculateJwkThumbprint(publicJwk as JWK, 'sha256');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    kid,
    alg,
    public_jwk: publicJwk,
    private_key: kek === null ? new Uint8Array(der) : sealPrivateKey(der, kek, kid),
    private_key_encryption: kek === null ? 'none' : 'aes-256-gcm',
    created_at: times.createdAt,
    activates_at: times.activatesAt,
    retires_at: null,
  };
}

/**
 * Creates a key that signs at once if none signs now. Under a row lock, so instances that
 * start together create one key between them.
 */
export async function ensureSigningKey(db: Kysely<Database>, tokens: TokenConfig, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    await lockSigningKeys(trx);
    const rows = await listPublishedSigningKeys(trx, now);
    if (rows.some((row) => row.activates_at.getTime() <= now.getTime())) return;
    await insertSigningKey(
      trx,
      await generateSigningKey(tokens.algorithm, tokens.keyEncryptionKey, { createdAt: now, activatesAt: now }),
    );
  });
}

/**
 * Seals, under `kek`, every signing key stored unsealed (from before a key-encryption key was set or
 * generated), so existing keys keep signing and verifying under the same kid. Returns how many.
 */
export async function sealUnsealedSigningKeys(db: Kysely<Database>, kek: Uint8Array): Promise<number> {
  let sealed = 0;
  for (const row of await listUnsealedSigningKeys(db)) {
    if (await storeSealedPrivateKey(db, row.kid, sealPrivateKey(row.private_key, kek, row.kid))) sealed++;
  }
  return sealed;
}
