#!/usr/bin/env node
/**
 * The `passkey-auth-server` command of the installed package, configured by the environment exactly
 * as `npm start` is:
 *
 *   passkey-auth-server [start]           the standalone server with the demo page
 *   passkey-auth-server migrate           apply pending migrations, then exit
 *   passkey-auth-server admin <command>   the operator CLI (`passkey-auth-server admin help`)
 */
const [command = 'start', ...rest] = process.argv.slice(2);
const io = { stdout: process.stdout, stderr: process.stderr };

/** Flush, then exit even if a library left a handle open. */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

switch (command) {
  case 'start':
    await import('./main.js');
    break;
  case 'migrate': {
    const { runMigrateCli } = await import('./migrate-cli.js');
    exit(await runMigrateCli(process.env, io));
    break;
  }
  case 'admin': {
    const { runAdminCli } = await import('./admin/cli.js');
    exit(await runAdminCli(rest, process.env, io));
    break;
  }
  default: {
    const help = command === 'help' || command === '--help' || command === '-h';
    (help ? process.stdout : process.stderr).write(
      [
        'Usage: passkey-auth-server [start]           run the server (configured by environment variables)',
        '       passkey-auth-server migrate           apply pending migrations',
        '       passkey-auth-server admin <command>   operator commands (admin help)',
        '',
      ].join('\n'),
    );
    exit(help ? 0 : 2);
  }
}
