/**
 * A Hono app that embeds the passkey auth server: its own pages and API, the contract's routes
 * mounted next to them, and its own route protected by the signed-in session.
 *
 *   npm run build && PORT=3000 node --import tsx examples/host-app/server.ts
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { type AuthVariables, createAuth } from 'passkey-auth-server';

const port = Number(process.env.PORT ?? 3000);
// Configured like the standalone server (ORIGIN follows PORT when unset); the embedded PGlite in
// DATA_DIR unless DATABASE_URL is set.
const auth = await createAuth({ env: { ...process.env, PORT: String(port) } });
await auth.start();

const app = new Hono<{ Variables: Partial<AuthVariables> }>();
const items: { name: string; owner: string }[] = [];

app.get('/', async (c) => c.html(await readFile(new URL('./index.html', import.meta.url), 'utf8')));
app.get('/app.js', async (c) => {
  c.header('Content-Type', 'text/javascript; charset=utf-8');
  return c.body(await readFile(new URL('./app.js', import.meta.url), 'utf8'));
});
// The browser build of passkey-auth-client (no bundler needed): served as the page's module.
const clientBundle = createRequire(import.meta.url).resolve('passkey-auth-client/browser');
app.get('/auth-client.js', async (c) => {
  c.header('Content-Type', 'text/javascript; charset=utf-8');
  return c.body(await readFile(clientBundle, 'utf8'));
});

app.get('/api/me', auth.requireSession(), (c) => c.json({ user: c.var.user }));
app.post('/api/items', auth.requireSession(), async (c) => {
  const body = (await c.req.json().catch(() => ({}))) as { name?: unknown };
  if (typeof body.name !== 'string' || body.name.length === 0)
    return c.json({ error: { code: 'invalid_request', message: 'name is required' } }, 400);
  const item = { name: body.name, owner: c.var.user!.id };
  items.push(item);
  return c.json({ item }, 201);
});

// `/auth/...` and `/.well-known/jwks.json`; every other path stays this app's.
app.route('/', auth.routes);

const server = serve({ fetch: app.fetch, port }, (info) => console.log(`host app on http://localhost:${info.port}`));

// No process.exit: once the server and auth have stopped, nothing is left and Node exits by itself.
const shutdown = () => {
  server.close();
  void auth.stop().then(() => console.log('stopped'));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
