import { describe, expect, it } from 'vitest';
import {
  formatToken,
  hashSecret,
  newSessionId,
  newSessionSecret,
  parseToken,
  secretHashMatches,
} from '../../server/sessions/token.js';

describe('session token', () => {
  it('formats and parses `id.secret`, and refuses anything of another shape', () => {
    const id = newSessionId();
    const secret = newSessionSecret();
    expect(parseToken(formatToken(id, secret))).toEqual({ id, secret });
    expect(parseToken(`${id}.${secret}x`)).toBeNull();
    expect(parseToken(`${id}${secret}`)).toBeNull();
    expect(parseToken(`${id}.${secret.slice(1)}+`)).toBeNull();
    expect(parseToken('')).toBeNull();
  });

  it('matches a secret against its stored hash: equal, unequal, and hashes of different lengths', () => {
    const secret = newSessionSecret();
    const stored = hashSecret(secret);
    expect(secretHashMatches(hashSecret(secret), stored)).toBe(true);
    expect(secretHashMatches(hashSecret(newSessionSecret()), stored)).toBe(false);
    // One bit off, in the last byte: a comparison that stopped early would still have to say no.
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 1]! ^= 1;
    expect(secretHashMatches(flipped, stored)).toBe(false);
    // timingSafeEqual throws on different lengths; the helper answers false instead.
    expect(secretHashMatches(stored.subarray(0, 31), stored)).toBe(false);
    expect(secretHashMatches(Buffer.concat([stored, Buffer.from([0])]), stored)).toBe(false);
    expect(secretHashMatches(new Uint8Array(0), stored)).toBe(false);
  });
});
