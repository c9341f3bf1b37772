import { runMigrateCli } from '../server/migrate-cli.js';

/**
 * `npm run migrate`: applies pending migrations to MIGRATION_DATABASE_URL (default DATABASE_URL), or
 * to the embedded database. Use a direct or session-mode URL, never a transaction-mode pooler.
 */
process.exitCode = await runMigrateCli(process.env, { stdout: process.stdout, stderr: process.stderr });
