/**
 * The test kit (`passkey-auth-server/testing`): everything a team building on this server needs to
 * test its own sign-in flows without real authenticators or mocks.
 *
 * - {@link createSoftwareAuthenticator}: a software passkey authenticator in Node that answers
 *   ceremony options with real, verifiable registration and assertion responses, with flags,
 *   counters and tampering knobs for negative tests (HTTP-level tests, no browser).
 * - {@link addVirtualAuthenticator}: installs a DevTools WebAuthn virtual authenticator on a
 *   Playwright Chromium page (browser tests), with user-verification, presence and bogus-signature
 *   switches; {@link toVirtualCredential} moves a software credential into it.
 * - {@link createDbscClient}: a software Device Bound Session Credentials client (registration with
 *   a new ES256 key, refresh by signed challenge) for testing device-bound sessions without a browser.
 *
 * See README "Test kit".
 *
 * @module
 */
export * from './authenticator.js';
export * from './dbsc-client.js';
export * from './playwright.js';
