/**
 * `passkey-auth-server`: the auth server to embed in a Hono app ({@link createAuth}), and the
 * configuration it reads. The standalone server is the `passkey-auth-server` command; the test kit
 * is `passkey-auth-server/testing`; token verification for other services is `passkey-auth-verify`.
 *
 * @example
 * import { Hono } from 'hono';
 * import { createAuth } from 'passkey-auth-server';
 *
 * const auth = await createAuth({ env: process.env });
 * await auth.start();
 * const app = new Hono();
 * app.route('/', auth.routes);
 * app.get('/api/me', auth.requireSession(), (c) => c.json({ user: c.var.user }));
 *
 * @module
 */
export {
  type Auth,
  type AuthConfig,
  AuthStartError,
  type AuthVariables,
  type CreateAuthOptions,
  createAuth,
  type StartOptions,
} from './auth.js';
export type { Clock } from './clock.js';
export { type Config, ConfigError, loadConfig, type SessionRiskAction, type SignInRiskAction } from './config.js';
export { MigrationError } from './db/migrate.js';
export type { RequireSessionOptions } from './sessions/gate.js';
export type { Session } from './sessions/service.js';
export type { User } from './user.js';
