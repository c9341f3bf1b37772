/**
 * The floor of the comparison in `npm run bench`: a bare Hono app on the same `@hono/node-server`
 * as the auth server, answering one small JSON body with no middleware and no database.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.get('/hello', (c) => c.json({ ok: true }));

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
