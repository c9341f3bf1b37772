import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, createPostgresKysely } from '../../server/db/database.js';
import { fixedQuery, laneIdleCount } from '../../server/db/fixed-query.js';
import { inTransaction, retryStats } from '../../server/db/transaction.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

// The hot path's fixed SQL (server/db/fixed-query.ts): on PostgreSQL it runs straight on the pool,
// as a named prepared statement when marked, and is retried after a serialization failure like any
// single statement; in a transaction (and on PGlite) it goes through Kysely.
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.destroy();
});

describe('fixedQuery', () => {
  it('returns the rows, outside and inside a transaction', async () => {
    const { db } = database;
    expect(await fixedQuery(db, '/* prepared:fixed_query_rows_v1 */ select $1::int + 1 as n', [41])).toEqual([
      { n: 42 },
    ]);
    const inside = await inTransaction(db, (trx) => fixedQuery(trx, 'select $1::text as s', ['in a transaction']));
    expect(inside).toEqual([{ s: 'in a transaction' }]);
  });

  const onPostgres = process.env.DATABASE_URL ? it : it.skip;

  onPostgres('runs marked SQL as a named prepared statement on the pool, and unmarked SQL unnamed', async () => {
    const pool = createPool(database.url as string, { max: 1 });
    const db = createPostgresKysely(pool);
    try {
      await fixedQuery(db, '/* prepared:fixed_query_named_v1 */ select 1 as one', []);
      await fixedQuery(db, 'select 2 as two', []);
      await inTransaction(db, (trx) => fixedQuery(trx, '/* prepared:fixed_query_in_trx_v1 */ select 3 as three', []));
      // One connection (max 1): its prepared statements are the ones the queries above created.
      const { rows } = await pool.query<{ name: string }>('select name from pg_prepared_statements order by name');
      expect(rows.map((row) => row.name)).toEqual(['fixed_query_in_trx_v1', 'fixed_query_named_v1']);
    } finally {
      await db.destroy();
    }
  });

  onPostgres('prepares nothing when prepared statements are off (PgBouncer in transaction mode)', async () => {
    const pool = createPool(database.url as string, { max: 1, preparedStatements: false });
    const db = createPostgresKysely(pool);
    try {
      expect(await fixedQuery(db, '/* prepared:fixed_query_off_v1 */ select 1 as one', [])).toEqual([{ one: 1 }]);
      const { rows } = await sql`select name from pg_prepared_statements`.execute(db);
      expect(rows).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  onPostgres('runs a statement again after a serialization failure, and counts it', async () => {
    const pool = createPool(database.url as string, { max: 1 });
    const db = createPostgresKysely(pool);
    try {
      // Fails with 40001 the first time it is called, then answers.
      await sql`create sequence fixed_query_attempts`.execute(db);
      await sql`
        create function fixed_query_flaky() returns int language plpgsql as $$
        begin
          if nextval('fixed_query_attempts') = 1 then
            raise exception 'could not serialize access' using errcode = '40001';
          end if;
          return 7;
        end $$`.execute(db);
      expect(await fixedQuery(db, 'select fixed_query_flaky() as n', [])).toEqual([{ n: 7 }]);
      expect(retryStats(db).statementRetries).toBe(1);
    } finally {
      await sql`drop function if exists fixed_query_flaky()`.execute(db);
      await sql`drop sequence if exists fixed_query_attempts`.execute(db);
      await db.destroy();
    }
  });

  onPostgres('keeps a client checked out between fixed queries, and gives it back when Kysely needs one', async () => {
    const pool = createPool(database.url as string, { max: 1 });
    const db = createPostgresKysely(pool);
    try {
      await fixedQuery(db, '/* prepared:fixed_query_lane_v1 */ select 1 as one', []);
      // The lane holds the pool's only client idle: no checkout for the next fixed query.
      expect(pool.totalCount).toBe(1);
      expect(pool.idleCount).toBe(0);
      expect(laneIdleCount(pool)).toBe(1);
      const [first] = await fixedQuery<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      const [second] = await fixedQuery<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      expect(second?.pid).toBe(first?.pid);
      // Kysely takes the pool's one client back from the lane, without waiting for it.
      const started = Date.now();
      const { rows } = await sql<{ two: number }>`select 2 as two`.execute(db);
      expect(rows).toEqual([{ two: 2 }]);
      expect(Date.now() - started).toBeLessThan(500);
      await inTransaction(db, (trx) => sql`select 3`.execute(trx));
      expect(pool.totalCount).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  onPostgres('queues fixed queries beyond its clients, and leaves the pool one for transactions', async () => {
    const pool = createPool(database.url as string, { max: 3 });
    const db = createPostgresKysely(pool);
    try {
      // Forty at once on a lane of two clients (max - 1), with transactions alongside.
      const queries = Array.from({ length: 40 }, (_, i) =>
        fixedQuery<{ n: number }>(db, '/* prepared:fixed_query_queue_v1 */ select $1::int as n, pg_sleep(0.002)', [i]),
      );
      const transactions = Array.from({ length: 3 }, (_, i) =>
        inTransaction(db, async (trx) => (await sql<{ t: number }>`select ${i}::int as t`.execute(trx)).rows[0]?.t),
      );
      const rows = await Promise.all(queries);
      expect(rows.map((r) => r[0]?.n)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(await Promise.all(transactions)).toEqual([0, 1, 2]);
      expect(pool.totalCount).toBeLessThanOrEqual(3);
      expect(laneIdleCount(pool)).toBeLessThanOrEqual(2);
    } finally {
      await db.destroy();
    }
  });

  onPostgres('gives a failed query its error, closes its client, and goes on with a new one', async () => {
    const pool = createPool(database.url as string, { max: 2 });
    const db = createPostgresKysely(pool);
    try {
      const [before] = await fixedQuery<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      await expect(fixedQuery(db, 'select 1 / $1::int as x', [0])).rejects.toThrow(/division by zero/);
      const [after] = await fixedQuery<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      expect(after?.pid).not.toBe(before?.pid);
      expect(pool.totalCount).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  onPostgres('replaces a client whose connection was closed while the lane held it idle', async () => {
    const pool = createPool(database.url as string, { max: 2 });
    const db = createPostgresKysely(pool);
    const admin = createPool(database.url as string, { max: 1 });
    try {
      const [before] = await fixedQuery<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      expect(laneIdleCount(pool)).toBe(1);
      await admin.query('select pg_terminate_backend($1)', [before?.pid]);
      // The client notices when its socket closes (at once on loopback).
      await new Promise((resolve) => setTimeout(resolve, 200));
      const [after] = await fixedQuery<{ pid: number }>(db, 'select pg_backend_pid() as pid', []);
      expect(after?.pid).not.toBe(before?.pid);
    } finally {
      await admin.end();
      await db.destroy();
    }
  });

  onPostgres('fails a query that waits for a client longer than the connection timeout', async () => {
    const pool = createPool(database.url as string, { max: 2, connectTimeoutMs: 200 });
    const db = createPostgresKysely(pool);
    try {
      // The lane's one client (max - 1) is busy for a second; the next fixed query gives up after 200 ms.
      const slow = fixedQuery(db, 'select pg_sleep(1)', []);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      await expect(fixedQuery(db, 'select 1', [])).rejects.toThrow(/timeout exceeded when trying to connect/);
      expect(Date.now() - started).toBeLessThan(900);
      await slow;
    } finally {
      await db.destroy();
    }
  });

  onPostgres('lets the pool end at once with clients held idle', async () => {
    const pool = createPool(database.url as string, { max: 4 });
    const db = createPostgresKysely(pool);
    // (Kysely ends the pool only once it has run a query of its own, as the server's migrations do.)
    await sql`select 1`.execute(db);
    await Promise.all(Array.from({ length: 6 }, () => fixedQuery(db, 'select pg_sleep(0.01)', [])));
    expect(laneIdleCount(pool)).toBeGreaterThan(0);
    const started = Date.now();
    await db.destroy();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(pool.totalCount).toBe(0);
  });
});
