import { runAdminCli } from '../server/admin/cli.js';

/** `npm run admin -- <command>`: the operator CLI; see README "Operators" or `npm run admin -- help`. */
const code = await runAdminCli(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr });
// Flush, then exit even if a library left a handle open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
