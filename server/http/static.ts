import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';
import { packageRoot } from '../package-root.js';

/** Where `npm run build:client` writes the bundled client and demo page. */
export const defaultStaticDir = path.join(packageRoot(), 'client/dist');

const files: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo.js': { file: 'demo.js', type: 'text/javascript; charset=utf-8' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=utf-8' },
  '/auth-client.js': { file: 'auth-client.js', type: 'text/javascript; charset=utf-8' },
};

// No inline script or style anywhere on the page, so the policy can be this strict.
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The demo page and the browser client, from a fixed list of files (no path from the request). */
export function staticRoutes(options: { dir?: string } = {}) {
  const dir = options.dir ?? defaultStaticDir;
  const app = new Hono();
  for (const [route, { file, type }] of Object.entries(files)) {
    app.get(route, async (c) => {
      let content: Buffer;
      try {
        content = await readFile(path.join(dir, file));
      } catch {
        return c.text('The client is not built: run `npm run build:client`.', 404);
      }
      c.header('Content-Type', type);
      c.header('Cache-Control', 'no-cache');
      if (file === 'index.html') c.header('Content-Security-Policy', contentSecurityPolicy);
      return c.body(new Uint8Array(content));
    });
  }
  return app;
}
