import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, createPostgresKysely } from '../../server/db/database.js';
import { fixedRead } from '../../server/db/fixed-query.js';
import { PipelinedReads } from '../../server/db/pipelined-reads.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startPgBouncer } from '../helpers/pgbouncer.js';

// The session lookup's pipelined read connections (server/db/pipelined-reads.ts), on a real
// PostgreSQL server: PGlite has one in-process connection and no pipeline.
const onPostgres = process.env.DATABASE_URL ? describe : describe.skip;

onPostgres('PipelinedReads', () => {
  let database: TestDatabase;
  let admin: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    admin = new pg.Pool({ connectionString: database.url as string, max: 1 });
  });

  afterAll(async () => {
    await admin?.end();
    await database?.destroy();
  });

  const reads = (options: { connections?: number; queryTimeoutMs?: number } = {}) =>
    new PipelinedReads({ config: { connectionString: database.url as string }, ...options });

  it('answers many concurrent reads, each its own rows, over two connections', async () => {
    const r = reads();
    try {
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => r.query('select $1::int as n, pg_backend_pid() as pid', [i])),
      );
      expect(answers.map((rows) => (rows[0] as { n: number }).n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      const pids = new Set(answers.map((rows) => (rows[0] as { pid: number }).pid));
      expect(pids.size).toBe(2);
      expect(r.size).toBe(2);
    } finally {
      await r.close();
    }
  });

  it('sends the reads of one turn of the event loop in one write per connection', async () => {
    const r = reads();
    try {
      await Promise.all([r.query('select 1', []), r.query('select 1', [])]);
      const before = { ...r.stats };
      // Fifty issued in one turn: two writes, one per connection; then ten more, one per turn.
      await Promise.all(Array.from({ length: 50 }, (_, i) => r.query('select $1::int as n', [i])));
      expect(r.stats.queries - before.queries).toBe(50);
      expect(r.stats.writes - before.writes).toBe(2);
      for (let i = 0; i < 10; i++) await r.query('select 1', []);
      expect(r.stats.writes - before.writes).toBe(12);
    } finally {
      await r.close();
    }
  });

  it('fails a failing query alone: the ones around it are answered', async () => {
    const r = reads({ connections: 1 });
    try {
      const [before, failed, after] = await Promise.allSettled([
        r.query('select 1 as one', []),
        r.query('select 1 / $1::int as x', [0]),
        r.query('select 3 as three', []),
      ]);
      expect(before).toEqual({ status: 'fulfilled', value: [{ one: 1 }] });
      expect(failed.status).toBe('rejected');
      expect(String((failed as PromiseRejectedResult).reason)).toMatch(/division by zero/);
      expect(after).toEqual({ status: 'fulfilled', value: [{ three: 3 }] });
    } finally {
      await r.close();
    }
  });

  it('replaces a connection that was lost', async () => {
    const r = reads({ connections: 1 });
    try {
      const [first] = (await r.query('select pg_backend_pid() as pid', [])) as Array<{ pid: number }>;
      await admin.query('select pg_terminate_backend($1)', [first?.pid]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const [second] = (await r.query('select pg_backend_pid() as pid', [])) as Array<{ pid: number }>;
      expect(second?.pid).not.toBe(first?.pid);
    } finally {
      await r.close();
    }
  });

  it('closes a connection whose query goes unanswered past the query timeout, and goes on', async () => {
    const r = reads({ connections: 1, queryTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(r.query('select pg_sleep(5)', [])).rejects.toThrow(/Connection terminated|Query read timeout/);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await r.query('select 4 as four', [])).toEqual([{ four: 4 }]);
    } finally {
      await r.close();
    }
  });

  it('refuses reads once closed', async () => {
    const r = reads();
    await r.query('select 1', []);
    await r.close();
    await expect(r.query('select 1', [])).rejects.toThrow(/after calling end/);
  });

  it('carries the session lookup of a database handle, as a named prepared statement', async () => {
    const pool = createPool(database.url as string, { max: 2 });
    const db = createPostgresKysely(pool);
    try {
      await sql`select 1`.execute(db);
      expect(await fixedRead(db, '/* prepared:pipelined_read_v1 */ select $1::text as s', ['x'])).toEqual([{ s: 'x' }]);
      // Not on the pool: the pool's clients never saw the statement.
      const onPool = await pool.query('select name from pg_prepared_statements');
      expect(onPool.rows).toEqual([]);
      // One read at a time goes to the first connection, which prepared it.
      const onRead = await fixedRead<{ name: string }>(db, 'select name from pg_prepared_statements', []);
      expect(onRead.map((row) => row.name)).toContain('pipelined_read_v1');
      // In a transaction, a read goes with the transaction.
      const inside = await db
        .transaction()
        .execute((trx) => fixedRead<{ s: string }>(trx, 'select $1::text as s', ['in a transaction']));
      expect(inside).toEqual([{ s: 'in a transaction' }]);
    } finally {
      await db.destroy();
    }
  });

  it('is not used when statements are not prepared (a pooler such as PgBouncer before 1.21)', async () => {
    const pool = createPool(database.url as string, { max: 1, preparedStatements: false });
    const db = createPostgresKysely(pool);
    try {
      await sql`select 1`.execute(db);
      const [row] = await fixedRead<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      const onPool = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
      expect(row?.pid).toBe(onPool.rows[0]?.pid);
    } finally {
      await db.destroy();
    }
  });
});

// TEST_PGBOUNCER=1 (.ci/run): the pipelined reads through Debian's PgBouncer (1.18) in transaction
// mode, with unnamed statements (1.18 has no prepared statements): each lookup is a transaction of
// its own there, and PgBouncer passes pipelined extended-protocol queries through.
describe.runIf(process.env.DATABASE_URL && process.env.TEST_PGBOUNCER === '1')(
  'PipelinedReads through PgBouncer (transaction mode)',
  () => {
    it('answers every read with its own rows, and the failing ones alone, while PgBouncer moves server connections', async () => {
      const database = await createTestDatabase();
      const pgbouncer = await startPgBouncer(database.url as string, { poolSize: 2 });
      const r = new PipelinedReads({ config: { connectionString: pgbouncer.through(database.url as string) } });
      try {
        for (let round = 0; round < 5; round++) {
          const settled = await Promise.allSettled(
            Array.from({ length: 300 }, (_, i) =>
              i % 20 === 7 ? r.query('select 1 / $1::int as x', [0]) : r.query('select $1::int as n', [i]),
            ),
          );
          settled.forEach((result, i) => {
            if (i % 20 === 7) expect(result.status).toBe('rejected');
            else expect(result).toEqual({ status: 'fulfilled', value: [{ n: i }] });
          });
        }
      } finally {
        await r.close();
        await pgbouncer.stop();
        await database.destroy();
      }
    });
  },
);
