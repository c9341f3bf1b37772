import { AuthError } from '../errors.js';

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that make
// one name look like another.
const forbidden = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Normalises a username (Unicode NFKC, then lower case) so that `Ann` and `ann` are one user, and
 * checks the contract's rules: 3 to 64 characters after normalisation, no control characters.
 */
export function normalizeUsername(input: unknown): string {
  if (typeof input !== 'string') throw new AuthError('invalid_request', 'username must be a string.');
  if (input.length > 256) throw new AuthError('invalid_request', 'username must have 3 to 64 characters.');
  const username = input.normalize('NFKC').toLowerCase().trim();
  const length = [...username].length;
  if (length < 3 || length > 64) throw new AuthError('invalid_request', 'username must have 3 to 64 characters.');
  if (forbidden.test(username)) throw new AuthError('invalid_request', 'username must not contain control characters.');
  return username;
}

/** A display name: at most 64 characters, no control characters; defaults to the username. */
export function normalizeDisplayName(input: unknown, username: string): string {
  if (input === undefined || input === null) return username;
  if (typeof input !== 'string') throw new AuthError('invalid_request', 'displayName must be a string.');
  const displayName = input.normalize('NFC').trim();
  if ([...displayName].length > 64) throw new AuthError('invalid_request', 'displayName must have at most 64 characters.');
  if (forbidden.test(displayName)) throw new AuthError('invalid_request', 'displayName must not contain control characters.');
  return displayName === '' ? username : displayName;
}

/** True when text holds a character no name may hold: controls, line separators, bidi overrides. */
export function hasForbiddenCharacters(text: string): boolean {
  return forbidden.test(text);
}
