import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/db/database.js';
import { migrateToLatest } from '../server/db/migrate.js';

/**
 * `npm run migrate`: applies pending migrations to MIGRATION_DATABASE_URL (default DATABASE_URL), or
 * to the embedded database. Use a direct or session-mode URL, never a transaction-mode pooler.
 */
const config = loadConfig(process.env);
const database = await openDatabase({ databaseUrl: config.migrationDatabaseUrl, dataDir: config.dataDir, poolSize: 1, statementTimeoutMs: 3_600_000 }).catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
try {
  const { results = [] } = await migrateToLatest(database.db);
  for (const r of results) console.log(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}`);
  if (results.length === 0) console.log('The database is up to date.');
} finally {
  await database.close();
}
