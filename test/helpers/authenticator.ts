/**
 * The software authenticator now lives in the public test kit (`server/testing/authenticator.ts`,
 * exported as `passkey-auth-server/testing`); this module re-exports it for the project's tests.
 *
 * @module
 */
export * from '../../server/testing/authenticator.js';
