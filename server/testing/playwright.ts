/**
 * A Playwright helper that installs a DevTools (CDP) WebAuthn virtual authenticator on a page, so a
 * Chromium driven by Playwright runs real WebAuthn ceremonies (`navigator.credentials.create/get`,
 * conditional mediation) against it: no mocks in the page, real signatures for the server.
 *
 * Works with `playwright`, `playwright-core` and `@playwright/test` on Chromium (CDP is Chromium's).
 *
 * @example
 * ```ts
 * import { addVirtualAuthenticator } from 'passkey-auth-server/testing';
 *
 * const authenticator = await addVirtualAuthenticator(page);
 * await page.getByRole('button', { name: 'Create account with a passkey' }).click();
 * expect(await authenticator.credentials()).toHaveLength(1);
 * ```
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import type { CDPSession, Page } from 'playwright-core';
import type { SoftwareCredential } from './authenticator.js';

/** Options for {@link addVirtualAuthenticator}; the defaults make a platform passkey authenticator. */
export interface VirtualAuthenticatorOptions {
  /** Default `'ctap2'`. */
  protocol?: 'ctap2' | 'u2f';
  /** Default `'internal'` (a platform authenticator, like Touch ID or Windows Hello). */
  transport?: 'internal' | 'usb' | 'nfc' | 'ble' | 'hybrid';
  /** Whether it can store discoverable credentials (passkeys). Default `true`. */
  hasResidentKey?: boolean;
  /** Whether it can verify the user (biometrics, PIN). Default `true`. */
  hasUserVerification?: boolean;
  /** Whether user verification succeeds. Default `true`; `false` simulates a failed fingerprint. */
  isUserVerified?: boolean;
  /**
   * Whether user presence is confirmed at once, so ceremonies complete by themselves. Default
   * `true`. Turn it off to keep an autofill (conditional) request pending, as a real user would.
   */
  automaticPresenceSimulation?: boolean;
  /** Backup eligibility (BE) of new credentials. Default `false`. */
  defaultBackupEligibility?: boolean;
  /** Backup state (BS, "synced") of new credentials. Default `false`. */
  defaultBackupState?: boolean;
}

/** A credential held by a virtual authenticator (binary fields base64, as DevTools reports them). */
export interface VirtualCredential {
  /** Standard base64 (not base64url) of the credential ID. */
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  /** Standard base64 of the PKCS#8 private key. */
  privateKey: string;
  /** Standard base64 of the user handle. */
  userHandle?: string;
  signCount: number;
  backupEligibility?: boolean;
  backupState?: boolean;
  userName?: string;
  userDisplayName?: string;
}

/** Make the authenticator's next responses wrong on purpose, for negative tests. */
export interface ResponseOverrides {
  /** The signature is replaced with zeroes: the server must refuse it. */
  bogusSignature?: boolean;
  /** The UV flag is cleared although the user "verified". */
  badUserVerification?: boolean;
  /** The UP flag is cleared. */
  badUserPresence?: boolean;
}

/** A virtual authenticator installed on a page. */
export interface VirtualAuthenticator {
  /** The DevTools session, for commands this helper does not wrap. */
  readonly cdp: CDPSession;
  readonly authenticatorId: string;
  /** Whether the next ceremonies succeed user verification. */
  setUserVerified(verified: boolean): Promise<void>;
  /** Whether ceremonies complete by themselves (user presence); off keeps autofill pending. */
  setAutomaticPresence(enabled: boolean): Promise<void>;
  /** Tamper with the next responses; `{}` resets to honest answers. */
  setResponseOverrides(overrides: ResponseOverrides): Promise<void>;
  /** The credentials it holds, with their signature counters. */
  credentials(): Promise<VirtualCredential[]>;
  /** Puts a credential on it, e.g. one registered through the API with {@link toVirtualCredential}. */
  addCredential(credential: VirtualCredential): Promise<void>;
  /** Removes one credential (by its standard-base64 or base64url ID). */
  removeCredential(credentialId: string): Promise<void>;
  /** Removes every credential. */
  clearCredentials(): Promise<void>;
  /** Takes the authenticator off the page (as unplugging a security key). */
  remove(): Promise<void>;
}

// One DevTools session per page, shared by all its virtual authenticators: WebAuthn.enable is
// per session, and a second session would not see the first one's authenticators.
const sessions = new WeakMap<Page, Promise<CDPSession>>();

function webAuthnSession(page: Page): Promise<CDPSession> {
  let session = sessions.get(page);
  if (!session) {
    session = (async () => {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable', { enableUI: false });
      return cdp;
    })();
    sessions.set(page, session);
    session.catch(() => sessions.delete(page));
  }
  return session;
}

/**
 * Installs a DevTools WebAuthn virtual authenticator on a Chromium page. Call it before the page
 * starts a ceremony; it stays for the page's lifetime, across navigations. Several can be installed
 * on one page (say, a laptop's and a security key); Chromium asks all of them.
 *
 * @example
 * ```ts
 * const laptop = await addVirtualAuthenticator(page);
 * await laptop.setAutomaticPresence(false); // the autofill offer now waits, as for a real user
 * const failingFingerprint = await addVirtualAuthenticator(page, { isUserVerified: false });
 * ```
 */
export async function addVirtualAuthenticator(
  page: Page,
  options: VirtualAuthenticatorOptions = {},
): Promise<VirtualAuthenticator> {
  const cdp = await webAuthnSession(page);
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: options.protocol ?? 'ctap2',
      transport: options.transport ?? 'internal',
      hasResidentKey: options.hasResidentKey ?? true,
      hasUserVerification: options.hasUserVerification ?? true,
      isUserVerified: options.isUserVerified ?? true,
      automaticPresenceSimulation: options.automaticPresenceSimulation ?? true,
      defaultBackupEligibility: options.defaultBackupEligibility ?? false,
      defaultBackupState: options.defaultBackupState ?? false,
    },
  });
  const toStandardBase64 = (id: string) =>
    Buffer.from(id, id.includes('-') || id.includes('_') ? 'base64url' : 'base64').toString('base64');
  return {
    cdp,
    authenticatorId,
    setUserVerified: async (isUserVerified) => {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
    setAutomaticPresence: async (enabled) => {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    },
    setResponseOverrides: async ({ bogusSignature = false, badUserVerification = false, badUserPresence = false }) => {
      await cdp.send('WebAuthn.setResponseOverrideBits', {
        authenticatorId,
        isBogusSignature: bogusSignature,
        isBadUV: badUserVerification,
        isBadUP: badUserPresence,
      });
    },
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    addCredential: async (credential) => {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    },
    removeCredential: async (credentialId) => {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: toStandardBase64(credentialId) });
    },
    clearCredentials: async () => {
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
    },
    remove: async () => {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

/**
 * Converts a credential of the software authenticator (registered through the API, no browser
 * needed) into one a virtual authenticator can hold, so a browser test can start with an existing
 * account and sign in at once.
 *
 * @example
 * ```ts
 * const software = createSoftwareAuthenticator({ origin });
 * // ...register a user over HTTP with software.createCredential(options)...
 * await authenticator.addCredential(toVirtualCredential(software.credentials[0]!));
 * ```
 */
export function toVirtualCredential(
  credential: SoftwareCredential,
  options: { userName?: string; userDisplayName?: string } = {},
): VirtualCredential {
  return {
    credentialId: Buffer.from(credential.rawId).toString('base64'),
    isResidentCredential: true,
    rpId: credential.rpId,
    privateKey: pkcs8(credential.privateKey),
    userHandle: Buffer.from(credential.userHandle, 'base64url').toString('base64'),
    signCount: credential.signCount,
    backupEligibility: credential.backupEligible,
    backupState: credential.backupState,
    userName: options.userName ?? credential.userName,
    ...(options.userDisplayName === undefined ? {} : { userDisplayName: options.userDisplayName }),
  };
}

function pkcs8(key: KeyObject): string {
  return key.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}
