import { runMigrateCli } from '../server/migrate-cli.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database. */
process.exitCode = await runMigrateCli(process.env, { stdout: process.stdout, stderr: process.stderr });
