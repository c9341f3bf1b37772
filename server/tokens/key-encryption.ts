import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

const version = 1;
const ivLength = 12;
const tagLength = 16;

/**
 * Seals a private key with AES-256-GCM under the key-encryption key from the environment. The kid
 * is the additional authenticated data, so a sealed key cannot be moved to another row. Layout:
 * version (1 byte) | IV (12) | ciphertext | tag (16).
 */
export function sealPrivateKey(plaintext: Uint8Array, kek: Uint8Array, kid: string): Uint8Array {
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(version), iv, ciphertext, cipher.getAuthTag()]);
}

/** Opens what {@link sealPrivateKey} sealed; throws when the key, kid or bytes do not match. */
export function openPrivateKey(sealed: Uint8Array, kek: Uint8Array, kid: string): Buffer {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (bytes.byteLength < 1 + ivLength + tagLength || bytes[0] !== version)
    throw new Error(`Signing key ${kid}: unknown sealed format`);
  const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(1, 1 + ivLength));
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.byteLength - tagLength));
  return Buffer.concat([decipher.update(bytes.subarray(1 + ivLength, bytes.byteLength - tagLength)), decipher.final()]);
}

/** The embedded server's own key-encryption key, beside (not inside) the PGlite files in DATA_DIR. */
export const KEY_ENCRYPTION_KEY_FILE = 'token-key-encryption.key';

/**
 * The key-encryption key to seal signing keys with: `TOKEN_KEY_ENCRYPTION_KEY` when set; else, for
 * the embedded database, one the server generates once and keeps in `<DATA_DIR>/token-key-encryption.key`
 * (mode 0600, base64), so the signing keys in the database files are never in the clear; else (a
 * PostgreSQL server without the variable) null, as before.
 */
export async function resolveKeyEncryptionKey(
  configured: Uint8Array | null,
  dataDir: string | null,
): Promise<Uint8Array | null> {
  if (configured !== null || dataDir === null) return configured;
  const file = path.join(dataDir, KEY_ENCRYPTION_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing !== null) return existing;
  // Written under a temporary name and linked into place: never half-written, and of two processes
  // creating it at once one wins and both use its key.
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600);
    await link(temporary, file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  } finally {
    await unlink(temporary).catch(() => {});
  }
  const created = await readKeyFile(file);
  if (created === null) throw new Error(`Could not create the key-encryption key ${file}`);
  return created;
}

async function readKeyFile(file: string): Promise<Uint8Array | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.byteLength !== 32)
    throw new Error(
      `${file} does not hold a 32-byte key in base64; restore it from a backup (signing keys sealed with it cannot be opened without it)`,
    );
  return new Uint8Array(bytes);
}
