import { describe, expect, it } from 'vitest';
import { usernameOf } from '../../server/http/rate-limit.js';
import { canonicalUsername, normalizeUsername } from '../../server/username.js';

describe('normalizeUsername', () => {
  it.each([
    ['zero-width space', 'ali\u200bce'],
    ['zero-width non-joiner', 'ali\u200cce'],
    ['zero-width joiner', 'ali\u200dce'],
    ['word joiner', 'ali\u2060ce'],
    ['soft hyphen', 'ali\u00adce'],
    ['combining grapheme joiner', 'ali\u034fce'],
    ['variation selector 16', 'alice\ufe0f'],
    ['variation selector 1', 'ali\ufe00ce'],
    ['Hangul filler', 'ali\u3164ce'],
    ['BOM inside the name', 'ali\ufeffce'],
    ['Mongolian vowel separator', 'ali\u180ece'],
    ['a tag character', 'alice\u{e0041}'],
    ['an invisible times', 'ali\u2062ce'],
    ['a lone high surrogate', 'alice\ud800'],
    ['a lone low surrogate', '\udc00alice'],
  ])('refuses a name with a %s', (_, name) => {
    expect(() => normalizeUsername(name)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it.each([
    ['Latin and Cyrillic', 'p\u0430ypal'],
    ['Latin and Greek', 'g\u03bfogle'],
    ['Cyrillic and Greek', '\u0430\u03b2\u0432'],
  ])('refuses a name that mixes scripts: %s', (_, name) => {
    expect(() => normalizeUsername(name)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it.each([
    ['ann'],
    ['Ann Smith'],
    ['jürgen-42'],
    ['иван'],
    ['αλέξης'],
    ['山田太郎'],
    ['やまだ_taro'],
    ['김철수'],
    ['محمد'],
    ['user.name+tag'],
    ['renée'],
  ])('accepts %s', (name) => {
    expect(normalizeUsername(name)).toBe(name.normalize('NFKC').toLowerCase());
  });
});

describe('one normalisation for the account and the rate limiter', () => {
  it.each([' target', 'target ', '  TARGET\t', '\u3000Target\u3000', '\u00a0target', 'ｔａｒｇｅｔ', '\ufefftarget'])(
    'gives %j the key of its account',
    (spelling) => {
      expect(usernameOf({ username: spelling })).toBe(normalizeUsername(spelling));
      expect(canonicalUsername(spelling)).toBe('target');
    },
  );
});
