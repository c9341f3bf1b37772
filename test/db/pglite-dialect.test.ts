import { PGlite } from '@electric-sql/pglite';
import { AbortedTransactionError, type Generated, Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PGliteDialect } from '../../server/db/pglite-dialect.js';

interface DB {
  item: { id: Generated<number>; name: string; qty: number };
  counter: { id: number; n: number };
}

// PGlite.create() runs initdb and takes ~3 s, so one instance is shared by the
// tests; each test gets fresh tables and its own Kysely (closeOnDestroy: false).
describe('PGliteDialect', () => {
  let pglite: PGlite;
  let db: Kysely<DB>;

  beforeAll(async () => {
    pglite = await PGlite.create();
  }, 60_000);

  afterAll(async () => {
    await pglite.close();
  });

  beforeEach(async () => {
    db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite, closeOnDestroy: false }) });
    await db.schema.dropTable('item').ifExists().execute();
    await db.schema.dropTable('counter').ifExists().execute();
    await db.schema
      .createTable('item')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('qty', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('counter')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('n', 'integer', (c) => c.notNull())
      .execute();
  });

  afterEach(async () => {
    await db.destroy();
  });

  it('inserts, selects, updates and deletes with numAffectedRows', async () => {
    const ins = await db
      .insertInto('item')
      .values([
        { name: 'a', qty: 1 },
        { name: 'b', qty: 2 },
        { name: 'c', qty: 3 },
      ])
      .executeTakeFirstOrThrow();
    expect(ins.numInsertedOrUpdatedRows).toBe(3n);

    const returned = await db
      .insertInto('item')
      .values({ name: 'd', qty: 4 })
      .returning(['id', 'name'])
      .executeTakeFirstOrThrow();
    expect(returned).toEqual({ id: 4, name: 'd' });

    const rows = await db.selectFrom('item').select(['name', 'qty']).orderBy('id').execute();
    expect(rows).toEqual([
      { name: 'a', qty: 1 },
      { name: 'b', qty: 2 },
      { name: 'c', qty: 3 },
      { name: 'd', qty: 4 },
    ]);

    const upd = await db.updateTable('item').set({ qty: 10 }).where('qty', '>=', 2).executeTakeFirstOrThrow();
    expect(upd.numUpdatedRows).toBe(3n);
    const updNone = await db.updateTable('item').set({ qty: 0 }).where('name', '=', 'zzz').executeTakeFirstOrThrow();
    expect(updNone.numUpdatedRows).toBe(0n);

    const del = await db.deleteFrom('item').where('name', 'in', ['a', 'b']).executeTakeFirstOrThrow();
    expect(del.numDeletedRows).toBe(2n);

    const { count } = await db
      .selectFrom('item')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    // PGlite parses int8 to a number when it is a safe integer (pg would return '2').
    expect(count).toBe(2);
  });

  it('commits a transaction', async () => {
    const result = await db.transaction().execute(async (trx) => {
      await trx.insertInto('item').values({ name: 'x', qty: 1 }).execute();
      await trx.insertInto('item').values({ name: 'y', qty: 2 }).execute();
      return 'done';
    });
    expect(result).toBe('done');
    const names = await db.selectFrom('item').select('name').orderBy('name').execute();
    expect(names.map((r) => r.name)).toEqual(['x', 'y']);
    expect(pglite.isInTransaction()).toBe(false);
  });

  it('rolls back a transaction when the callback throws', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('item').values({ name: 'x', qty: 1 }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const rows = await db.selectFrom('item').selectAll().execute();
    expect(rows).toEqual([]);
    expect(pglite.isInTransaction()).toBe(false);
  });

  it('serializes concurrent read-modify-write transactions', async () => {
    await db.insertInto('counter').values({ id: 1, n: 0 }).execute();
    await Promise.all(
      Array.from({ length: 10 }, () =>
        db.transaction().execute(async (trx) => {
          const { n } = await trx.selectFrom('counter').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
          // Yield to the event loop so that unserialized transactions would interleave.
          await new Promise((r) => setTimeout(r, 1));
          await trx
            .updateTable('counter')
            .set({ n: n + 1 })
            .where('id', '=', 1)
            .execute();
        }),
      ),
    );
    const { n } = await db.selectFrom('counter').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
    expect(n).toBe(10);
  });

  it('runs plain queries issued concurrently with a transaction outside of it', async () => {
    await db.insertInto('counter').values({ id: 1, n: 0 }).execute();
    const tx = db.transaction().execute(async (trx) => {
      await trx.updateTable('counter').set({ n: 5 }).where('id', '=', 1).execute();
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('rollback please');
    });
    const outside = db.insertInto('counter').values({ id: 2, n: 2 }).execute();
    await expect(tx).rejects.toThrow('rollback please');
    await outside;
    const rows = await db.selectFrom('counter').selectAll().orderBy('id').execute();
    expect(rows).toEqual([
      { id: 1, n: 0 },
      { id: 2, n: 2 },
    ]);
  });

  it('propagates unique violations with code 23505', async () => {
    await db.insertInto('item').values({ name: 'dup', qty: 1 }).execute();
    const err = await db
      .insertInto('item')
      .values({ name: 'dup', qty: 2 })
      .execute()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', constraint: 'item_name_key', table: 'item' });
    // Bound parameters stay readable but are not serialized by loggers.
    expect((err as { params?: unknown }).params).toEqual(['dup', 2]);
    expect(Object.keys(err as object)).not.toContain('params');
  });

  it('rolls back when a statement fails inside a transaction', async () => {
    await db.insertInto('item').values({ name: 'dup', qty: 1 }).execute();
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('item').values({ name: 'ok', qty: 1 }).execute();
        await trx.insertInto('item').values({ name: 'dup', qty: 1 }).execute();
      }),
    ).rejects.toMatchObject({ code: '23505' });
    const names = await db.selectFrom('item').select('name').execute();
    expect(names).toEqual([{ name: 'dup' }]);
  });

  it('throws AbortedTransactionError when committing a transaction aborted by a swallowed error', async () => {
    await db.insertInto('item').values({ name: 'dup', qty: 1 }).execute();
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('item').values({ name: 'ok', qty: 1 }).execute();
        await trx
          .insertInto('item')
          .values({ name: 'dup', qty: 1 })
          .execute()
          .catch(() => {});
      }),
    ).rejects.toBeInstanceOf(AbortedTransactionError);
    expect(pglite.isInTransaction()).toBe(false);
    const names = await db.selectFrom('item').select('name').execute();
    expect(names).toEqual([{ name: 'dup' }]);
  });

  it('supports savepoints in controlled transactions', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('item').values({ name: 'keep', qty: 1 }).execute();
    const sp = await trx.savepoint('sp1').execute();
    await sp.insertInto('item').values({ name: 'drop', qty: 1 }).execute();
    await sp.rollbackToSavepoint('sp1').execute();
    await trx.commit().execute();
    const names = await db.selectFrom('item').select('name').execute();
    expect(names).toEqual([{ name: 'keep' }]);
  });

  it('rolls back a transaction left open on a released connection', async () => {
    await db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      await conn.insertInto('item').values({ name: 'leaked', qty: 1 }).execute();
    });
    expect(pglite.isInTransaction()).toBe(false);
    expect(await db.selectFrom('item').selectAll().execute()).toEqual([]);
  });

  it('closes the PGlite instance on destroy by default, and not with closeOnDestroy: false', async () => {
    const shared = await PGlite.create();
    const db2 = new Kysely<DB>({ dialect: new PGliteDialect({ pglite: shared, closeOnDestroy: false }) });
    await sql`select 1`.execute(db2);
    await db2.destroy();
    expect(shared.closed).toBe(false);
    const db3 = new Kysely<DB>({ dialect: new PGliteDialect({ pglite: shared }) });
    await sql`select 1`.execute(db3);
    await db3.destroy();
    expect(shared.closed).toBe(true);
  }, 60_000);
});
