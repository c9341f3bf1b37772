import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

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
  if (bytes.byteLength < 1 + ivLength + tagLength || bytes[0] !== version) throw new Error(`Signing key ${kid}: unknown sealed format`);
  const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(1, 1 + ivLength));
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.byteLength - tagLength));
  return Buffer.concat([decipher.update(bytes.subarray(1 + ivLength, bytes.byteLength - tagLength)), decipher.final()]);
}
