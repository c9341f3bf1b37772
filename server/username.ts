import { AuthError } from './errors.js';

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that make
// one name look like another.
const forbidden = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// Invisible in a name, so two names that render the same would be two accounts: format characters
// (zero-width space and joiners, soft hyphen, word joiner, BOM, tags…) and every other
// Default_Ignorable_Code_Point (U+034F, variation selectors, U+3164 Hangul filler…).
// A surrogate that is not half of a pair: not text (String.prototype.isWellFormed, without ES2024 lib).
const loneSurrogate = /[\ud800-\udfff]/u;

const invisible = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/**
 * The one canonical spelling of a username, for storing, looking up and rate-limiting alike:
 * Unicode NFKC, lower case, surrounding white space removed. Validates nothing; see
 * {@link normalizeUsername}.
 */
export function canonicalUsername(input: string): string {
  return input.normalize('NFKC').toLowerCase().trim();
}

/**
 * Normalises a username ({@link canonicalUsername}) so that `Ann` and `ann` are one user, and checks
 * the rules: well-formed Unicode, 3 to 64 characters after normalisation, no control or invisible
 * characters, and letters of one script (Latin may join Han, Kana, Hangul or Bopomofo, as in UTS #39
 * "highly restrictive"), so `pаypal` with a Cyrillic `а` is refused.
 */
export function normalizeUsername(input: unknown): string {
  if (typeof input !== 'string') throw new AuthError('invalid_request', 'username must be a string.');
  if (input.length > 256) throw new AuthError('invalid_request', 'username must have 3 to 64 characters.');
  if (loneSurrogate.test(input)) throw new AuthError('invalid_request', 'username must be well-formed Unicode.');
  const username = canonicalUsername(input);
  const length = [...username].length;
  if (length < 3 || length > 64) throw new AuthError('invalid_request', 'username must have 3 to 64 characters.');
  if (forbidden.test(username)) throw new AuthError('invalid_request', 'username must not contain control characters.');
  if (invisible.test(username))
    throw new AuthError('invalid_request', 'username must not contain invisible characters.');
  if (!isSingleScript(username))
    throw new AuthError('invalid_request', 'username must not mix letters of different scripts.');
  return username;
}

/** A display name: at most 64 characters, no control characters; defaults to the username. */
export function normalizeDisplayName(input: unknown, username: string): string {
  if (input === undefined || input === null) return username;
  if (typeof input !== 'string') throw new AuthError('invalid_request', 'displayName must be a string.');
  if (loneSurrogate.test(input)) throw new AuthError('invalid_request', 'displayName must be well-formed Unicode.');
  const displayName = input.normalize('NFC').trim();
  if ([...displayName].length > 64)
    throw new AuthError('invalid_request', 'displayName must have at most 64 characters.');
  if (forbidden.test(displayName))
    throw new AuthError('invalid_request', 'displayName must not contain control characters.');
  return displayName === '' ? username : displayName;
}

/** True when text holds a character no name may hold: controls, line separators, bidi overrides. */
export function hasForbiddenCharacters(text: string): boolean {
  return forbidden.test(text);
}

// The scripts recommended for identifiers (UTS #31 table 5). A letter of any other script counts as
// a script of its own ("other"), so it cannot be mixed with these either.
const recommendedScripts = [
  'Arabic',
  'Armenian',
  'Bengali',
  'Bopomofo',
  'Cyrillic',
  'Devanagari',
  'Ethiopic',
  'Georgian',
  'Greek',
  'Gujarati',
  'Gurmukhi',
  'Han',
  'Hangul',
  'Hebrew',
  'Hiragana',
  'Kannada',
  'Katakana',
  'Khmer',
  'Lao',
  'Latin',
  'Malayalam',
  'Myanmar',
  'Oriya',
  'Sinhala',
  'Tamil',
  'Telugu',
  'Thaana',
  'Thai',
  'Tibetan',
].map((name) => [name, new RegExp(`^\\p{Script_Extensions=${name}}$`, 'u')] as const);
const latin = /^\p{Script_Extensions=Latin}$/u;
const commonOrInherited = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;

/** The script set of one character (UTS #39 §5.1, augmented with the CJK writing systems); null for Common/Inherited. */
function scriptSet(char: string): Set<string> | null {
  const scripts = new Set(recommendedScripts.filter(([, re]) => re.test(char)).map(([name]) => name));
  if (scripts.size === 0) return commonOrInherited.test(char) ? null : new Set(['other']);
  if (scripts.has('Han')) scripts.add('Jpan').add('Kore').add('Hanb');
  if (scripts.has('Hiragana') || scripts.has('Katakana')) scripts.add('Jpan');
  if (scripts.has('Hangul')) scripts.add('Kore');
  if (scripts.has('Bopomofo')) scripts.add('Hanb');
  return scripts;
}

/**
 * UTS #39 "highly restrictive": the characters' resolved script set is not empty, or it is once the
 * Latin ones are set aside and the rest resolve to Japanese, Korean or Chinese writing.
 */
function isSingleScript(text: string): boolean {
  const resolve = (chars: string[]): Set<string> | null => {
    let resolved = null as Set<string> | null;
    for (const char of chars) {
      const scripts = scriptSet(char);
      if (scripts === null) continue;
      resolved = resolved === null ? scripts : new Set([...resolved].filter((s: string) => scripts.has(s)));
    }
    return resolved;
  };
  const chars = [...text];
  const all = resolve(chars);
  if (all === null || all.size > 0) return true;
  const rest = resolve(chars.filter((char) => !latin.test(char)));
  return rest !== null && (rest.has('Jpan') || rest.has('Kore') || rest.has('Hanb'));
}
