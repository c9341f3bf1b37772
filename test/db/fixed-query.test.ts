import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, createPostgresKysely } from '../../server/db/database.js';
import { fixedQuery } from '../../server/db/fixed-query.js';
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
      const { rows } = await pool.query('select name from pg_prepared_statements');
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
});
