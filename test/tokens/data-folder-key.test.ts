import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/db/database.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { KEY_ENCRYPTION_KEY_FILE, resolveKeyEncryptionKey } from '../../server/tokens/key-encryption.js';
import { createKeyStore, ensureSigningKey, sealUnsealedSigningKeys } from '../../server/tokens/keys.js';
import { TestClock } from '../helpers/clock.js';

// The embedded server's signing keys, as main.ts opens them: never in the clear in DATA_DIR.

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

let tmp: string | undefined;
afterEach(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the embedded server’s key-encryption key', () => {
  it('seals the signing key with a key of its own (0600, outside the database files), so no file holds it in the clear', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'kek-'));
    const dataDir = path.join(tmp, 'data');
    const config = loadConfig({ ORIGIN: 'http://localhost:3000', DATA_DIR: dataDir });
    expect(config.tokens.keyEncryptionKey).toBeNull();
    const database = await openDatabase({ databaseUrl: null, dataDir });
    let der: Buffer;
    let d: Buffer;
    try {
      await migrateToLatest(database.db);
      const kek = await resolveKeyEncryptionKey(config.tokens.keyEncryptionKey, database.lock!.path);
      expect(kek).not.toBeNull();
      // The same key at every start.
      expect(Buffer.from((await resolveKeyEncryptionKey(null, database.lock!.path))!).equals(Buffer.from(kek!))).toBe(
        true,
      );
      const keys = createKeyStore({
        db: database.db,
        config: { ...config, tokens: { ...config.tokens, keyEncryptionKey: kek } },
        clock: new TestClock(),
      });
      const { privateKey } = await keys.signingKey();
      der = privateKey.export({ format: 'der', type: 'pkcs8' });
      d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
      const row = await database.db.selectFrom('signing_key').selectAll().executeTakeFirstOrThrow();
      expect(row.private_key_encryption).toBe('aes-256-gcm');
    } finally {
      await database.close();
    }
    const file = path.join(dataDir, KEY_ENCRYPTION_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    for (const name of await filesUnder(dataDir)) {
      const bytes = await readFile(name);
      expect(bytes.includes(der), name).toBe(false);
      expect(bytes.includes(d), name).toBe(false);
    }
  }, 180_000);

  it('seals keys that were stored in the clear, and they keep signing under the same kid', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'kek-'));
    const database = await openDatabase({ databaseUrl: null, dataDir: path.join(tmp, 'data') });
    try {
      await migrateToLatest(database.db);
      const config = loadConfig({ ORIGIN: 'http://localhost:3000' });
      const clock = new TestClock();
      await ensureSigningKey(database.db, config.tokens, clock.now());
      const before = await createKeyStore({ db: database.db, config, clock }).signingKey();
      const kek = new Uint8Array(randomBytes(32));
      expect(await sealUnsealedSigningKeys(database.db, kek)).toBe(1);
      expect(await sealUnsealedSigningKeys(database.db, kek)).toBe(0);
      const row = await database.db.selectFrom('signing_key').selectAll().executeTakeFirstOrThrow();
      expect(row.private_key_encryption).toBe('aes-256-gcm');
      const after = await createKeyStore({
        db: database.db,
        config: { ...config, tokens: { ...config.tokens, keyEncryptionKey: kek } },
        clock,
      }).signingKey();
      expect(after.kid).toBe(before.kid);
      expect(
        after.privateKey
          .export({ format: 'der', type: 'pkcs8' })
          .equals(before.privateKey.export({ format: 'der', type: 'pkcs8' })),
      ).toBe(true);
    } finally {
      await database.close();
    }
  }, 180_000);
});
