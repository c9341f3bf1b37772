import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { MigrationError, migrateToLatest } from './db/migrate.js';

/**
 * `passkey-auth-server migrate` (and `npm run migrate`): applies pending migrations to
 * `MIGRATION_DATABASE_URL` (default `DATABASE_URL`; a direct or session-mode URL, never a
 * transaction-mode pooler), or to the embedded database in `DATA_DIR`. Returns the exit code: 0 done, 1 the
 * database or a migration failed (one line naming it), 2 configuration error.
 */
export async function runMigrateCli(
  env: Record<string, string | undefined>,
  io: { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown } },
): Promise<number> {
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  let database;
  try {
    database = await openDatabase({
      databaseUrl: config.migrationDatabaseUrl,
      dataDir: config.dataDir,
      poolSize: 1,
      statementTimeoutMs: 3_600_000,
    });
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  try {
    const { results = [] } = await migrateToLatest(database.db);
    for (const r of results) io.stdout.write(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}\n`);
    if (results.length === 0) io.stdout.write('The database is up to date.\n');
    return 0;
  } catch (error) {
    if (!(error instanceof MigrationError)) throw error;
    io.stderr.write(`${error.message.split('\n')[0]}\n`);
    return 1;
  } finally {
    await database.close();
  }
}
