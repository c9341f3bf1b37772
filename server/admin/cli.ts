/**
 * `npm run admin -- <command>`: parses the command line, picks how to reach the database and prints
 * the result. Three paths, one set of commands (server/admin/commands.ts):
 * - `DATABASE_URL` set: talk to PostgreSQL directly (any number of processes may share it).
 * - PGlite, folder free: take the data-folder lock, open the database, run, release.
 * - PGlite, folder held by a running server: send the command over its local admin channel.
 */
import { existsSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { systemClock } from '../clock.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { checkLockSocket, lockSocketPath } from '../db/data-dir-lock.js';
import { openDatabase } from '../db/database.js';
import { createLogger } from '../logger.js';
import { resolveKeyEncryptionKey } from '../tokens/key-encryption.js';
import { ADMIN_TOKEN_FILE } from './channel.js';
import { connectSocket, sendAdminRequest } from './client.js';
import {
  type AdminArgs,
  type AdminCommandName,
  AdminError,
  adminCommands,
  type CommandSpec,
  isAdminCommand,
  runAdminCommand,
} from './commands.js';
import { formatAdminResult } from './format.js';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Exit codes: 0 ok, 1 runtime error (unknown user, database unreachable…), 2 usage or configuration error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function usageText(): string {
  const commands = Object.values(adminCommands as Record<string, CommandSpec>);
  const width = Math.max(...commands.map((c) => c.synopsis.length), 'help'.length);
  return [
    'Usage: npm run admin -- <command> [arguments] [--json]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.synopsis.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  Show this text.`,
    '',
    'Options:',
    '  --json   Print the result (or the error) as JSON, for scripts.',
    '  --yes    Confirm a destructive command (delete).',
    '',
    'A user is named by username or by id.',
    'Database: DATABASE_URL (PostgreSQL) if set, else the embedded database in DATA_DIR (default ./.data).',
    'While the server runs on DATA_DIR, commands go through its local admin channel.',
    '',
    'Exit codes: 0 ok, 1 runtime error (e.g. unknown user), 2 usage or configuration error.',
  ].join('\n');
}

type Parsed = { kind: 'help' } | { kind: 'run'; command: AdminCommandName; args: AdminArgs; json: boolean };

/** Parses the arguments after `npm run admin --`; throws AdminError('usage'). */
export function parseCommandLine(argv: string[]): Parsed & { json: boolean } {
  const positional: string[] = [];
  let json = false;
  let yes = false;
  let help = false;
  for (const arg of argv) {
    if (arg === '--json') json = true;
    else if (arg === '--yes' || arg === '-y') yes = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg.startsWith('-') && arg.length > 1) throw new AdminError('usage', `Unknown option ${arg}.`);
    else positional.push(arg);
  }
  const [name, ...rest] = positional;
  if (help || name === 'help') return { kind: 'help', json };
  if (name === undefined) throw new AdminError('usage', 'No command given.');
  if (!isAdminCommand(name)) throw new AdminError('usage', `Unknown command ${JSON.stringify(name)}.`);
  const spec: CommandSpec = adminCommands[name];
  if (spec.takesUser && rest.length !== 1)
    throw new AdminError('usage', `${name} needs exactly one user: ${spec.synopsis}`);
  if (!spec.takesUser && rest.length > 0) throw new AdminError('usage', `${name} takes no arguments.`);
  if (yes && !spec.needsYes) throw new AdminError('usage', `--yes applies only to delete.`);
  if (spec.needsYes && !yes)
    throw new AdminError('usage', `${name} removes the user for good and asks no question: add --yes to confirm.`);
  const args: AdminArgs = {};
  if (spec.takesUser) args.user = rest[0];
  if (spec.needsYes) args.yes = true;
  return { kind: 'run', command: name, args, json };
}

/** Runs the CLI; returns the exit code. `env` is the process environment (config comes from it). */
export async function runAdminCli(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const fail = (code: string, message: string, exit: number) => {
    io.stderr.write(json ? `${JSON.stringify({ error: { code, message } })}\n` : `${message}\n`);
    return exit;
  };

  let parsed: Parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    return fail('usage', `${error.message}\n\n${usageText()}`, EXIT_USAGE);
  }
  if (parsed.kind === 'help') {
    io.stdout.write(`${usageText()}\n`);
    return EXIT_OK;
  }

  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return fail('usage', error.message, EXIT_USAGE);
    throw error;
  }

  try {
    const result = await executeAdminCommand(config, parsed.command, parsed.args, io);
    io.stdout.write(
      parsed.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatAdminResult(parsed.command, result)}\n`,
    );
    return EXIT_OK;
  } catch (error) {
    if (error instanceof AdminError)
      return fail(error.code, error.message, error.code === 'usage' ? EXIT_USAGE : EXIT_FAILURE);
    const message = error instanceof Error ? error.message : String(error);
    return fail('internal', `The command failed: ${message}`, EXIT_FAILURE);
  }
}

/** Runs a command on whichever path reaches the database (see the module comment). */
export async function executeAdminCommand(
  config: Config,
  command: AdminCommandName,
  args: AdminArgs,
  io: CliIo,
): Promise<unknown> {
  const logger = createLogger({ level: 'warn', destination: { write: (text: string) => void io.stderr.write(text) } });
  const runDirect = async (database: Awaited<ReturnType<typeof openDatabase>>) => {
    try {
      // The same key-encryption key as the server: keys:rotate seals the key it creates.
      const keyEncryptionKey = await resolveKeyEncryptionKey(
        config.tokens.keyEncryptionKey,
        database.lock?.path ?? null,
      );
      const tokens = { ...config.tokens, keyEncryptionKey };
      return await runAdminCommand(
        { db: database.db, config: { ...config, tokens }, clock: systemClock, logger },
        command,
        args,
      );
    } finally {
      await database.close();
    }
  };

  if (config.databaseUrl) {
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
    return runDirect(database);
  }

  const dataDir = path.resolve(config.dataDir);
  // Opening a missing folder would create an empty database; an operator typo deserves an error.
  if (!existsSync(path.join(dataDir, 'pgdata'))) {
    throw new AdminError(
      'unavailable',
      `No database in DATA_DIR ${dataDir}. Start the server once (or run npm run migrate) first, or set DATABASE_URL.`,
    );
  }
  let database;
  try {
    database = await openDatabase({ databaseUrl: null, dataDir });
  } catch (lockError) {
    return sendToRunningServer(dataDir, command, args, lockError);
  }
  return runDirect(database);
}

/** The folder is locked: if a live server holds it, send the command over its admin channel. */
async function sendToRunningServer(
  dataDir: string,
  command: AdminCommandName,
  args: AdminArgs,
  lockError: unknown,
): Promise<unknown> {
  const canonical = await realpath(dataDir);
  const socketPath = lockSocketPath(canonical);
  const tokenFile = path.join(canonical, ADMIN_TOKEN_FILE);
  // Read before connecting: the request must go out right after the connection opens.
  const token = await readFile(tokenFile, 'utf8').then(
    (text) => text.trim(),
    (error: NodeJS.ErrnoException) => error,
  );
  // Never send the token to a socket another local user could have bound.
  try {
    await checkLockSocket(canonical, socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw lockError;
    throw new AdminError('unauthorized', (error as Error).message);
  }
  let socket;
  try {
    socket = await connectSocket(socketPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new AdminError(
        'unauthorized',
        `Permission denied on ${socketPath}: run the admin CLI as the OS user that runs the server.`,
      );
    }
    // Nobody listens: the lock failed for another reason; report that one.
    throw lockError;
  }
  if (typeof token !== 'string') {
    socket.destroy();
    throw new AdminError(
      'unauthorized',
      `A server is running on ${dataDir}, but its admin token ${tokenFile} cannot be read (${token.code ?? token.message}). It may still be starting (try again); else run the CLI as the OS user that runs the server.`,
    );
  }
  const response = await sendAdminRequest(socket, { token, command, args: { ...args } });
  if (!response.ok) throw new AdminError(response.error.code, response.error.message);
  return response.result;
}
