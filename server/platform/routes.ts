import { type Context, Hono } from 'hono';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import type { AppEnv } from '../http/env.js';

/**
 * Mounted at `/.well-known`: the association files of related origins and native apps, built from
 * configuration (`/webauthn`, `/assetlinks.json`, `/apple-app-site-association`); a file that has
 * nothing configured answers 404. Each is JSON served as `application/json` at its exact path,
 * without a redirect (Apple's and Google's fetchers follow none).
 */
export function platformRoutes(deps: Pick<Deps, 'config'>) {
  const { config } = deps;
  const app = new Hono<AppEnv>();
  const serve = (c: Context, body: unknown) => {
    c.header('Cache-Control', 'public, max-age=3600');
    return c.json(body);
  };

  // WebAuthn Level 3 "related origin requests": a browser on one of these origins may use this RP ID.
  app.get('/webauthn', (c) => {
    if (config.relatedOrigins.length === 0) throw new AuthError('not_found');
    return serve(c, { origins: config.relatedOrigins });
  });

  // Digital Asset Links: the apps that may use this site's passkeys (Credential Manager checks it).
  app.get('/assetlinks.json', (c) => {
    if (config.apps.android.length === 0) throw new AuthError('not_found');
    return serve(
      c,
      config.apps.android.map((android) => ({
        relation: ['delegate_permission/common.get_login_creds'],
        target: {
          namespace: 'android_app',
          package_name: android.packageName,
          sha256_cert_fingerprints: android.fingerprints,
        },
      })),
    );
  });

  // Apple's associated domains: `webcredentials` lets these apps use the passkeys of this domain.
  app.get('/apple-app-site-association', (c) => {
    if (config.apps.ios.length === 0) throw new AuthError('not_found');
    return serve(c, { webcredentials: { apps: config.apps.ios } });
  });

  return app;
}
