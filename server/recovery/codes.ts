import { randomBytes } from 'node:crypto';
import { sha256 } from '../crypto.js';

/** How many codes one set holds. */
export const recoveryCodeCount = 10;

// Crockford's base32 without the letters people confuse (I, L, O, U): 5 bits per character.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A new recovery code: 16 characters of base32 (80 random bits) in groups of four, like
 * `7k2m-q9xd-4fpa-hc3e`. At 80 bits a guess is hopeless, so a plain SHA-256 is a safe way to store it.
 */
export function generateRecoveryCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let text = '';
  for (let i = 0; i < 16; i++) {
    text = alphabet[Number(bits & 31n)] + text;
    bits >>= 5n;
  }
  return text.match(/.{4}/g)!.join('-');
}

/**
 * The canonical form of a typed code: case, spaces and dashes do not matter, and the letters
 * Crockford's base32 leaves out read as the digits they look like (I and L as 1, O as 0).
 * `null` when what is left cannot be a code.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const text = input.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  return /^[0-9a-hjkmnp-tv-z]{16}$/.test(text) ? text : null;
}

/** What the database stores of a code. */
export function hashRecoveryCode(normalized: string): Buffer {
  return sha256(`recovery-code:${normalized}`);
}
