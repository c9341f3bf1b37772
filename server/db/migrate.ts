import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Kysely, type Migration, type MigrationProvider, type MigrationResultSet, Migrator, sql } from 'kysely';
import { packageRoot } from '../package-root.js';

/** The repository's `migrations/` folder. */
export const migrationsFolder = path.join(packageRoot(), 'migrations');

/**
 * Forward-only `.sql` migrations, one file each, applied in file-name order. Each file runs as one
 * multi-statement query inside the Migrator's transaction, so a failing file leaves nothing behind.
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string = migrationsFolder) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await readdir(this.folder)).sort()) {
      if (!file.endsWith('.sql')) continue;
      const text = await readFile(path.join(this.folder, file), 'utf8');
      migrations[file.slice(0, -'.sql'.length)] = {
        up: async (db) => {
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}

/** A migration run that failed: `migration` names the file that failed, null when none could start. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  readonly migration: string | null;

  constructor(migration: string | null, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(migration === null ? `Migrations could not run: ${reason}` : `Migration ${migration} failed: ${reason}`, {
      cause,
    });
    this.migration = migration;
  }
}

/** Applies every pending migration; throws a {@link MigrationError} (naming the failing migration) if one fails. */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before (and regardless of) the typed schema.
export async function migrateToLatest(db: Kysely<any>, folder?: string): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(folder) });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName ?? null, result.error);
  }
  return result;
}
