import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import pg from 'pg';
import { createPool, createPostgresKysely } from '../../server/db/database.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { PGliteDialect } from '../../server/db/pglite-dialect.js';
import type { Database } from '../../server/db/schema.js';

export interface TestDatabase {
  db: Kysely<Database>;
  kind: 'pglite' | 'postgres';
  /** For PostgreSQL: the URL of this test's own database. */
  url: string | null;
  /** Drops the database (PostgreSQL) or closes the in-memory one (PGlite). */
  destroy(): Promise<void>;
}

/**
 * A fresh, migrated database of its own for one test file: an in-memory PGlite by default, or a new
 * database on the PostgreSQL server named by `DATABASE_URL`, dropped again by `destroy()`.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const pglite = await PGlite.create();
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    await migrateToLatest(db);
    return {
      db,
      kind: 'pglite',
      url: null,
      destroy: async () => {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      },
    };
  }
  const name = `auth_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  // TEST_ISOLATION=serializable (as .ci/run sets it) runs every transaction of this database
  // SERIALIZABLE, so serialization failures show up and must be retried (server/db/transaction.ts).
  const isolation = process.env.TEST_ISOLATION;
  if (isolation !== undefined && isolation !== '') {
    if (!/^(serializable|repeatable read|read committed)$/.test(isolation))
      throw new Error(`TEST_ISOLATION=${isolation}: unknown isolation level`);
    await admin.query(`ALTER DATABASE ${name} SET default_transaction_isolation = '${isolation}'`);
  }
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createPostgresKysely(createPool(url.toString(), { max: 10 }));
  await migrateToLatest(db);
  return {
    db,
    kind: 'postgres',
    url: url.toString(),
    destroy: async () => {
      await db.destroy();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}
