import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

export function randomBase64url(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

const base64urlPattern = /^[A-Za-z0-9_-]*$/;

/** Decodes strict base64url (no padding, no `+` or `/`); `null` when the text is not base64url. */
export function fromBase64url(text: string): Buffer | null {
  if (!base64urlPattern.test(text) || text.length % 4 === 1) return null;
  return Buffer.from(text, 'base64url');
}

/** Constant-time equality of two byte strings of any length. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
