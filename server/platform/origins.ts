import type { Config } from '../config.js';

/**
 * The origin an Android app's passkey ceremony writes into `clientDataJSON`:
 * `android:apk-key-hash:` and the unpadded base64url SHA-256 of the app's signing certificate (the
 * same 32 bytes as the colon-separated hex fingerprint of `assetlinks.json`).
 */
export function androidOrigin(fingerprint: string): string {
  return `android:apk-key-hash:${Buffer.from(fingerprint.replaceAll(':', ''), 'hex').toString('base64url')}`;
}

/**
 * Every origin a WebAuthn ceremony may come from: the configured origins, the related origins
 * (WebAuthn Level 3 related origin requests), the Android apps' `android:apk-key-hash:` origins, and,
 * when iOS apps are configured, `https://<RP ID>` (an iOS app's ceremony names its associated domain
 * as the origin). Nothing else: the check stays an exact match.
 */
export function ceremonyOrigins(config: Pick<Config, 'origins' | 'relatedOrigins' | 'apps' | 'rpId'>): string[] {
  const origins = new Set([...config.origins, ...config.relatedOrigins]);
  for (const app of config.apps.android)
    for (const fingerprint of app.fingerprints) origins.add(androidOrigin(fingerprint));
  if (config.apps.ios.length > 0) origins.add(`https://${config.rpId}`);
  return [...origins];
}
