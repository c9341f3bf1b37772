/** A browser family as the risk signals compare it; `Other` for anything unrecognised. */
export type BrowserFamily = 'Chrome' | 'Edge' | 'Firefox' | 'Safari' | 'Opera' | 'Samsung Internet' | 'Other';

/** An operating system as the risk signals compare it; `Other` for anything unrecognised. */
export type OperatingSystem = 'Windows' | 'macOS' | 'iOS' | 'Android' | 'Linux' | 'ChromeOS' | 'Other';

/** What a `User-Agent` header says about the device: the family and OS only, never the version. */
export interface DeviceContext {
  browser: BrowserFamily;
  os: OperatingSystem;
}

// Order matters: every Chromium-based browser also says `Chrome/`, every iOS browser and Chrome also
// say `Safari/`, so the more specific tokens are tested first.
const browsers: ReadonlyArray<readonly [BrowserFamily, RegExp]> = [
  ['Samsung Internet', /\bSamsungBrowser\//],
  ['Opera', /\b(?:OPR|OPT|OPX|OPiOS)\/|\bOpera\b/],
  ['Edge', /\bEdg(?:e|A|iOS)?\//],
  ['Firefox', /\b(?:Firefox|FxiOS)\//],
  ['Chrome', /\b(?:Chrome|CriOS|Chromium)\//],
  ['Safari', /\bAppleWebKit\/.*\b(?:Safari|Mobile)\//],
];

// iOS before macOS (iPhones say "like Mac OS X"), Android and ChromeOS before Linux (both say Linux/X11).
const systems: ReadonlyArray<readonly [OperatingSystem, RegExp]> = [
  ['Windows', /\bWindows\b/],
  ['iOS', /\b(?:iPhone|iPad|iPod)\b/],
  ['Android', /\bAndroid\b/],
  ['ChromeOS', /\bCrOS\b/],
  ['macOS', /\bMac OS X\b|\bMacintosh\b/],
  ['Linux', /\bLinux\b|\bX11\b/],
];

/**
 * Parses the browser family and operating system out of a `User-Agent` header, for the major
 * browsers and systems; anything else is `Other`. Versions are ignored on purpose: a browser update
 * must not look like another device. An iPad in desktop mode reports itself as macOS, and is parsed so.
 *
 * @example
 * parseUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
 * // { browser: 'Firefox', os: 'Linux' }
 */
export function parseUserAgent(userAgent: string | null): DeviceContext {
  const text = userAgent ?? '';
  return {
    browser: browsers.find(([, pattern]) => pattern.test(text))?.[0] ?? 'Other',
    os: systems.find(([, pattern]) => pattern.test(text))?.[0] ?? 'Other',
  };
}
