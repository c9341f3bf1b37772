/**
 * The limit of a session check in Node for the side-by-side in `npm run bench`: a bare Hono app on
 * the same `@hono/node-server` that reads the session cookie, looks the session and its user up on
 * the same database with the same SQL as the auth server, as a named prepared statement straight on
 * a `pg` pool (no query builder, no middleware, no risk or refresh logic), compares the secret's hash
 * and answers the user as JSON. What the auth server's `GET /auth/session` costs beyond this is its
 * own work; what this costs beyond bare Hono is Node + `pg` + PostgreSQL.
 *
 * With `RAW_PG_PIPELINED=1`, the same lookup goes over two pipelined connections
 * (server/db/pipelined-reads.ts, as the auth server's lookups do) instead of one query per round
 * trip on a pool: the limit of the pipelined lookup.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import pg from 'pg';
import { createPool } from '../../server/db/database.js';
import { PipelinedReads } from '../../server/db/pipelined-reads.js';

const lookup = `select s.id, s.secret_hash, s.user_id, u.username, u.display_name,
  extract(epoch from s.created_at)::float8 * 1000 as created_ms,
  extract(epoch from s.expires_at)::float8 * 1000 as expires_ms
from session s join app_user u on u.id = s.user_id
where s.id = $1 and s.revoked_at is null and s.expires_at > $2 and s.last_seen_at > $3 and u.disabled_at is null`;

const idleTimeoutMs = 7 * 86400_000;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const pipelined =
  process.env.RAW_PG_PIPELINED === '1'
    ? (() => {
        // The server's pool configuration, whose client runs marked SQL as a named prepared statement.
        const prepared = createPool(process.env.DATABASE_URL as string, { max: 1 });
        const options = prepared.options as pg.ClientConfig & { Client?: typeof pg.Client };
        return new PipelinedReads({ config: options, Client: options.Client });
      })()
    : null;
const pipelinedLookup = `/* prepared:raw_session_lookup */ ${lookup}`;
const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.get('/session', async (c) => {
  const token = getCookie(c, '__Host-session') ?? '';
  const dot = token.indexOf('.');
  if (dot < 1) return c.json({ error: { code: 'unauthenticated', message: 'no session' } }, 401);
  const now = Date.now();
  const values = [token.slice(0, dot), new Date(now).toISOString(), new Date(now - idleTimeoutMs).toISOString()];
  const rows: any[] =
    pipelined === null
      ? (await pool.query({ name: 'raw_session_lookup', text: lookup, values })).rows
      : await pipelined.query(pipelinedLookup, values);
  const row = rows[0];
  const hash = createHash('sha256')
    .update(token.slice(dot + 1))
    .digest();
  if (row === undefined || !timingSafeEqual(hash, row.secret_hash)) {
    return c.json({ error: { code: 'unauthenticated', message: 'no session' } }, 401);
  }
  return c.json({
    user: { id: row.user_id, username: row.username, displayName: row.display_name },
    session: {
      id: row.id,
      createdAt: new Date(row.created_ms).toISOString(),
      expiresAt: new Date(row.expires_ms).toISOString(),
    },
  });
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
