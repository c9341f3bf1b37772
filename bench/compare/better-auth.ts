/**
 * Better Auth, as a team would run it in a Hono app on PostgreSQL, for the side-by-side in
 * `npm run bench`: `auth.api.getSession()` on every request of `GET /session`, against the same
 * PostgreSQL server and with as many sessions as the auth server's run. A development dependency
 * used only here.
 */
import { createHash, createHmac } from 'node:crypto';
import { type BetterAuthOptions, betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import pg from 'pg';

export const betterAuthSecret = 'bench-better-auth-secret-bench-better-auth-secret';

/** The options both the seeding (its migrations) and the server use: defaults, nothing cached. */
export function betterAuthOptions(pool: pg.Pool, baseURL: string): BetterAuthOptions {
  return {
    database: pool,
    secret: betterAuthSecret,
    baseURL,
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    logger: { disabled: true },
  };
}

/** Creates Better Auth's tables with its own migrations, then `users` users and `sessions` sessions. */
export async function seedBetterAuth(connectionString: string, users: number, sessions: number): Promise<void> {
  const pool = new pg.Pool({ connectionString, max: 1 });
  try {
    const { runMigrations } = await getMigrations(betterAuthOptions(pool, 'http://localhost'));
    await runMigrations();
    await pool.query(
      `insert into "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
       select 'u' || i, 'user ' || i, 'u' || i || '@bench.test', false, now(), now() from generate_series(1, $1::int) as i`,
      [users],
    );
    // Expiring in 7 days (Better Auth's default expiresIn), so no request pays the refresh write.
    await pool.query(
      `insert into session (id, token, "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent")
       select 's' || i, md5(i::text), 'u' || (1 + i % $2::int), now() + interval '7 days', now(), now(), '127.0.0.1', 'bench'
       from generate_series(1, $1::int) as i`,
      [sessions, users],
    );
    // As the auth server's tables (bench/seed.ts analyze): statistics and the visibility map now,
    // so that autovacuum does not pass over a million fresh rows while the rounds are measured.
    await pool.query('vacuum analyze');
  } finally {
    await pool.end();
  }
}

/** The signed cookie Better Auth reads for seeded session `i` (`token.base64(HMAC-SHA256)`, URI-encoded). */
export function betterAuthCookie(i: number): string {
  const token = createHash('md5').update(String(i)).digest('hex');
  const signature = createHmac('sha256', betterAuthSecret).update(token).digest('base64');
  return `better-auth.session_token=${encodeURIComponent(`${token}.${signature}`)}`;
}

async function main(): Promise<void> {
  const { serve } = await import('@hono/node-server');
  const { Hono } = await import('hono');
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  const auth = betterAuth(betterAuthOptions(pool, process.env.ORIGIN ?? 'http://localhost'));
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/session', async (c) => {
    const session = await auth.api.getSession({ headers: c.req.raw.headers });
    if (session === null) return c.json({ error: { code: 'unauthenticated', message: 'no session' } }, 401);
    return c.json({ user: session.user, session: { id: session.session.id, expiresAt: session.session.expiresAt } });
  });
  const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: process.env.HOST ?? '127.0.0.1' });
  process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
}

if (/better-auth\.[jt]s$/.test(process.argv[1] ?? '')) await main();
