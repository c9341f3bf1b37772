import { createRequire } from 'node:module';

// The `aaguids` package (MIT) ships the community-maintained AAGUID-to-name list
// (passkeydeveloper/passkey-authenticator-aaguids, merged with the FIDO Metadata Service names) as
// plain JSON; updating the package updates the names.
const aaguidNames = createRequire(import.meta.url)('aaguids') as Readonly<Record<string, string>>;

/** What a passkey is called when neither its user nor its AAGUID names it. */
export const genericPasskeyName = 'Passkey';

const zeroAaguid = '00000000-0000-0000-0000-000000000000';

/**
 * The authenticator's name for an AAGUID (`"iCloud Keychain"`, `"Google Password Manager"`,
 * `"YubiKey 5 Series"`…), or `null` for the all-zero AAGUID (authenticators that do not say, and
 * every passkey created with `attestation: "none"` on some platforms) and for unknown ones.
 */
export function authenticatorName(aaguid: string): string | null {
  const key = aaguid.toLowerCase();
  if (key === zeroAaguid) return null;
  const name = aaguidNames[key];
  return typeof name === 'string' && name.length > 0 ? name : null;
}
