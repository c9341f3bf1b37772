import { type Kysely, sql } from 'kysely';
import { sha256 } from '../server/crypto.js';
import type { Database } from '../server/db/schema.js';

/**
 * Set-based seeding for the benchmark: every table is filled by `INSERT … SELECT … FROM
 * generate_series` with cheap deterministic expressions, so that a seeded session's token can be
 * computed in Node without reading the table back, and only built-in functions are used (no
 * pgcrypto): the same SQL runs on PostgreSQL and on PGlite.
 *
 * - User `i` (1-based) has the id `00000000-0000-4000-8000-<i as 12 hex digits>`.
 * - Session `i` has the id `b` + i zero-padded to 19 digits (the 20-character id shape) and belongs
 *   to user `1 + i % users`. Every seeded session shares one secret ({@link seedSecret}), so the hash
 *   is computed once in Node and passed in: the table holds real 32-byte hashes, and lookups go by
 *   id (the secret is never indexed), so sharing it changes nothing the benchmark measures.
 */

/** The secret of every seeded session (43 characters of the base64url alphabet). */
export const seedSecret = 'benchSecretbenchSecretbenchSecretbenchSecre';

/** The cookie token `id.secret` of seeded session `i` (1-based). */
export function sessionToken(i: number): string {
  return `b${String(i).padStart(19, '0')}.${seedSecret}`;
}

interface IndexDefinition {
  name: string;
  definition: string;
}

/**
 * Runs `work` on one pinned connection with the table's indexes dropped, then rebuilds them: a bulk
 * build is several times faster than a million b-tree insertions (each a collation compare per level
 * for a text key). A primary key or unique constraint that a foreign key depends on stays. Foreign-key
 * triggers are skipped (`session_replication_role = replica`) where the role may: the rows are
 * consistent by construction.
 */
async function bulkLoad(
  db: Kysely<Database>,
  table: 'app_user' | 'session',
  work: (conn: Kysely<Database>) => Promise<void>,
): Promise<void> {
  await db.connection().execute(async (conn) => {
    let replica = false;
    try {
      await sql`set session_replication_role = replica`.execute(conn);
      replica = true;
    } catch {
      // Not a superuser: foreign keys are checked row by row, which is only slower.
    }
    const relation = sql`${table}::regclass`;
    const indexes = await sql<IndexDefinition>`
      select indexname as name, indexdef as definition from pg_indexes
      where schemaname = current_schema() and tablename = ${table}
        and indexname not in (select conname from pg_constraint where conrelid = ${relation})`.execute(conn);
    const keys = await sql<IndexDefinition>`
      select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint as c
      where conrelid = ${relation} and contype in ('p', 'u')
        and not exists (select 1 from pg_constraint as f where f.contype = 'f' and f.conindid = c.conindid)`.execute(
      conn,
    );
    for (const index of indexes.rows) await sql`drop index ${sql.id(index.name)}`.execute(conn);
    for (const key of keys.rows)
      await sql`alter table ${sql.table(table)} drop constraint ${sql.id(key.name)}`.execute(conn);
    try {
      await work(conn);
      await sql`set maintenance_work_mem = '256MB'`.execute(conn);
      for (const key of keys.rows)
        await sql`alter table ${sql.table(table)} add constraint ${sql.id(key.name)} ${sql.raw(key.definition)}`.execute(
          conn,
        );
      for (const index of indexes.rows) await sql.raw(index.definition).execute(conn);
    } finally {
      await sql`reset maintenance_work_mem`.execute(conn);
      if (replica) await sql`set session_replication_role = default`.execute(conn);
    }
  });
}

/** Inserts users 1..count. */
export async function seedUsers(db: Kysely<Database>, count: number, now: Date): Promise<void> {
  await bulkLoad(db, 'app_user', async (conn) => {
    await sql`
      insert into app_user (id, webauthn_user_id, username, display_name, created_at)
      select ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
             decode(lpad(to_hex(i), 64, '0'), 'hex'),
             'bench_user_' || i,
             'Bench User ' || i,
             ${now}
      from generate_series(1, ${count}::int) as i`.execute(conn);
  });
}

/**
 * Inserts sessions from..to (inclusive), spread round-robin over `users` users, all live: created
 * and last seen at `now`, expiring 30 days later.
 */
export async function seedSessions(
  db: Kysely<Database>,
  from: number,
  to: number,
  users: number,
  now: Date,
): Promise<void> {
  if (to < from) return;
  const expires = new Date(now.getTime() + 30 * 86400_000);
  const hash = sha256(seedSecret);
  await bulkLoad(db, 'session', async (conn) => {
    // Where sessions record the client networks they were used from (risk signals), seed the
    // loopback network the load comes from, as a real session in steady use has it: otherwise the
    // first request of each session pays a one-off write that steady traffic never does.
    const columns = await sql<{ n: number }>`
      select count(*)::int as n from information_schema.columns
      where table_schema = current_schema() and table_name = 'session' and column_name = 'networks'`.execute(conn);
    const networks = columns.rows[0]?.n ? sql`, networks` : sql``;
    const networksValue = columns.rows[0]?.n ? sql`, array['127.0.0.0/24']::text[]` : sql``;
    // In slices, so that no statement builds one huge transaction on the embedded database.
    const slice = 250_000;
    for (let start = from; start <= to; start += slice) {
      const end = Math.min(to, start + slice - 1);
      await sql`
        insert into session (id, secret_hash, user_id, created_at, last_seen_at, expires_at, verified_at${networks})
        select 'b' || lpad(i::text, 19, '0'),
               ${hash},
               ('00000000-0000-4000-8000-' || lpad(to_hex(1 + i % ${users}::int), 12, '0'))::uuid,
               ${now}, ${now}, ${expires}, ${now}${networksValue}
        from generate_series(${start}::int, ${end}::int) as i`.execute(conn);
    }
  });
}

/** Refreshes planner statistics and the visibility map after a bulk load, as autovacuum would. */
export async function analyze(db: Kysely<Database>): Promise<void> {
  await sql`vacuum analyze app_user`.execute(db);
  await sql`vacuum analyze session`.execute(db);
}
