/**
 * The operator commands behind `npm run admin`. Each is a plain function of the app's dependencies,
 * so the CLI runs the very same code whether it opens the database itself or asks the running server
 * over its local admin channel (server/admin/channel.ts). Results are JSON-ready (ISO dates).
 */

import { toBase64url } from '../crypto.js';
import type { AppUserRow } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { listPasskeyRowsOfUser } from '../passkeys/manage-repository.js';
import { liveAt } from '../sessions/lifetime.js';
import { listLiveSessionsOfUser } from '../sessions/repository.js';
import { rotateSigningKeys } from '../tokens/rotation.js';
import { normalizeUsername } from '../username.js';
import { findUserById, findUserByUsername } from '../users/repository.js';
import { deleteUser, disableUser, enableUser, revokeAllSessions } from '../users/service.js';
import { listRecentEventsOfUser, listUsersWithCounts, type UserSummaryRow } from './repository.js';

/** `usage` is a bad command line (exit 2); every other code is a runtime failure (exit 1). */
export type AdminErrorCode = 'usage' | 'not_found' | 'unauthorized' | 'unavailable' | 'internal';

export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The arguments a command takes, as they travel over the admin channel. */
export interface AdminArgs {
  /** A username or a user id. */
  user?: string;
  /** Confirms a destructive command (`delete`). */
  yes?: boolean;
}

export interface UserSummary {
  id: string;
  username: string;
  displayName: string;
  createdAt: string;
  disabledAt: string | null;
  passkeys: number;
  sessions: number;
}

export interface UserDetail {
  user: UserSummary;
  passkeys: Array<{
    id: string;
    name: string | null;
    aaguid: string;
    createdAt: string;
    lastUsedAt: string | null;
    backedUp: boolean;
    deviceType: string;
    counterRegressedAt: string | null;
  }>;
  sessions: Array<{
    id: string;
    createdAt: string;
    lastSeenAt: string;
    expiresAt: string;
    userAgent: string | null;
    ipAddress: string | null;
  }>;
  events: Array<{
    type: string;
    actor: string;
    reason: string | null;
    sessionId: string | null;
    ipAddress: string | null;
    createdAt: string;
    details: Record<string, unknown>;
  }>;
}

type UserRef = { id: string; username: string };

export interface CommandSpec {
  /** How the command is written on the command line, e.g. `disable <user>`. */
  synopsis: string;
  summary: string;
  takesUser: boolean;
  /** Destructive: refused without `yes`. */
  needsYes: boolean;
  run(deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>, args: AdminArgs): Promise<unknown>;
}

const RECENT_EVENTS = 20;

/** The command registry: the CLI's parser and help text and the admin channel both read it. */
export const adminCommands = {
  users: {
    synopsis: 'users',
    summary: 'List users: id, username, created, disabled, passkey count, live session count.',
    takesUser: false,
    needsYes: false,
    run: (deps) => listUsers(deps),
  },
  user: {
    synopsis: 'user <username|id>',
    summary: `Show a user: passkeys, live sessions, the ${RECENT_EVENTS} most recent audit events.`,
    takesUser: true,
    needsYes: false,
    run: (deps, args) => showUser(deps, requireUser(args)),
  },
  disable: {
    synopsis: 'disable <username|id>',
    summary: 'Disable a user and revoke all their sessions (one transaction); logins answer 403 account_disabled.',
    takesUser: true,
    needsYes: false,
    run: (deps, args) => disableUserCommand(deps, requireUser(args)),
  },
  enable: {
    synopsis: 'enable <username|id>',
    summary: 'Enable a disabled user again (their old sessions stay revoked).',
    takesUser: true,
    needsYes: false,
    run: (deps, args) => enableUserCommand(deps, requireUser(args)),
  },
  'revoke-sessions': {
    synopsis: 'revoke-sessions <username|id>',
    summary: 'Revoke all sessions of a user; their next request answers 401.',
    takesUser: true,
    needsYes: false,
    run: (deps, args) => revokeSessionsCommand(deps, requireUser(args)),
  },
  delete: {
    synopsis: 'delete <username|id> --yes',
    summary: 'Delete a user with their passkeys and sessions. Needs --yes; there is no prompt and no undo.',
    takesUser: true,
    needsYes: true,
    run: (deps, args) => deleteUserCommand(deps, { ref: requireUser(args), confirmed: args.yes === true }),
  },
  'keys:rotate': {
    synopsis: 'keys:rotate',
    summary:
      'Rotate the access-token signing key: publish a new key, sign with it after the JWKS cache age, retire the old one later.',
    takesUser: false,
    needsYes: false,
    run: (deps) => rotateKeysCommand(deps),
  },
} satisfies Record<string, CommandSpec>;

export type AdminCommandName = keyof typeof adminCommands;

export function isAdminCommand(name: unknown): name is AdminCommandName {
  return typeof name === 'string' && Object.hasOwn(adminCommands, name);
}

/**
 * Runs one command with arguments from an untrusted source (the admin channel's JSON): checks the
 * command name and the argument shape first, then runs it. Throws {@link AdminError}.
 */
export async function runAdminCommand(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
  command: unknown,
  args: unknown,
): Promise<unknown> {
  if (!isAdminCommand(command)) throw new AdminError('usage', `Unknown command ${JSON.stringify(command)}.`);
  const spec: CommandSpec = adminCommands[command];
  return spec.run(deps, parseAdminArgs(spec, command, args));
}

function parseAdminArgs(spec: CommandSpec, command: string, raw: unknown): AdminArgs {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new AdminError('usage', 'args must be an object.');
  const { user, yes, ...rest } = raw as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) throw new AdminError('usage', `Unknown argument ${unknownKeys[0]} for ${command}.`);
  const args: AdminArgs = {};
  if (spec.takesUser) {
    if (typeof user !== 'string' || user.trim() === '' || user.length > 256)
      throw new AdminError('usage', `${command} needs a user: ${spec.synopsis}`);
    args.user = user.trim();
  } else if (user !== undefined) {
    throw new AdminError('usage', `${command} takes no user.`);
  }
  if (yes !== undefined && typeof yes !== 'boolean') throw new AdminError('usage', 'yes must be a boolean.');
  if (yes !== undefined) args.yes = yes;
  return args;
}

function requireUser(args: AdminArgs): string {
  if (args.user === undefined) throw new AdminError('usage', 'A user (username or id) is required.');
  return args.user;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds a user by id (when the text is a UUID) or else by username, normalised as at sign-up. */
export async function resolveUser(deps: Pick<Deps, 'db'>, ref: string): Promise<AppUserRow> {
  if (uuidPattern.test(ref)) {
    const byId = await findUserById(deps.db, ref.toLowerCase());
    if (byId) return byId;
  }
  let username: string | null = null;
  try {
    username = normalizeUsername(ref);
  } catch {
    // Not a valid username either: fall through to "no such user".
  }
  const byName = username === null ? null : await findUserByUsername(deps.db, username);
  if (!byName) throw new AdminError('not_found', `No user with username or id ${JSON.stringify(ref)}.`);
  return byName;
}

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

function toSummary(row: UserSummaryRow): UserSummary {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    createdAt: row.created_at.toISOString(),
    disabledAt: iso(row.disabled_at),
    passkeys: row.passkey_count,
    sessions: row.session_count,
  };
}

/** `users`: every user with their passkey and live session counts. */
export async function listUsers(deps: Pick<Deps, 'db' | 'config' | 'clock'>): Promise<{ users: UserSummary[] }> {
  const now = deps.clock.now();
  const rows = await listUsersWithCounts(deps.db, liveAt(deps.config.session, now));
  return { users: rows.map(toSummary) };
}

/** `user`: one user (`ref`, a username or an id) with their passkeys, live sessions and recent events. */
export async function showUser(deps: Pick<Deps, 'db' | 'config' | 'clock'>, ref: string): Promise<UserDetail> {
  const { db } = deps;
  const now = deps.clock.now();
  const user = await resolveUser(deps, ref);
  const at = liveAt(deps.config.session, now);
  const [summary] = await listUsersWithCounts(db, at, user.id);
  if (!summary) throw new AdminError('not_found', `No user with username or id ${JSON.stringify(ref)}.`);
  const [passkeys, sessions, events] = await Promise.all([
    listPasskeyRowsOfUser(db, user.id),
    listLiveSessionsOfUser(db, user.id, at),
    listRecentEventsOfUser(db, user.id, RECENT_EVENTS),
  ]);
  return {
    user: toSummary(summary),
    passkeys: passkeys.map((p) => ({
      id: toBase64url(p.credential_id),
      name: p.name,
      aaguid: p.aaguid,
      createdAt: p.created_at.toISOString(),
      lastUsedAt: iso(p.last_used_at),
      backedUp: p.backed_up,
      deviceType: p.device_type,
      counterRegressedAt: iso(p.counter_regressed_at),
    })),
    sessions: sessions.map((s) => ({
      id: s.id,
      createdAt: s.created_at.toISOString(),
      lastSeenAt: s.last_seen_at.toISOString(),
      expiresAt: s.expires_at.toISOString(),
      userAgent: s.user_agent,
      ipAddress: s.ip_address,
    })),
    events: events.map((e) => ({
      type: e.type,
      actor: e.actor,
      reason: e.reason,
      sessionId: e.session_id,
      ipAddress: e.ip_address,
      createdAt: e.created_at.toISOString(),
      details: typeof e.details === 'string' ? (JSON.parse(e.details) as Record<string, unknown>) : e.details,
    })),
  };
}

function refOf(user: AppUserRow): UserRef {
  return { id: user.id, username: user.username };
}

function gone(ref: string): AdminError {
  return new AdminError('not_found', `No user with username or id ${JSON.stringify(ref)}.`);
}

/** `disable`: see {@link disableUser}. */
export async function disableUserCommand(
  deps: Pick<Deps, 'db' | 'clock' | 'logger'>,
  ref: string,
): Promise<{ user: UserRef; changed: boolean; revokedSessions: number }> {
  const user = await resolveUser(deps, ref);
  const result = await disableUser(deps, { userId: user.id, actor: 'admin' });
  if (!result) throw gone(ref);
  deps.logger.info(
    { userId: user.id, revokedSessions: result.revokedSessions, changed: result.changed },
    'admin: user disabled',
  );
  return { user: refOf(user), ...result };
}

/** `enable`: see {@link enableUser}. */
export async function enableUserCommand(
  deps: Pick<Deps, 'db' | 'clock' | 'logger'>,
  ref: string,
): Promise<{ user: UserRef; changed: boolean }> {
  const user = await resolveUser(deps, ref);
  const result = await enableUser(deps, { userId: user.id, actor: 'admin' });
  if (!result) throw gone(ref);
  deps.logger.info({ userId: user.id, changed: result.changed }, 'admin: user enabled');
  return { user: refOf(user), changed: result.changed };
}

/** `revoke-sessions`: see {@link revokeAllSessions}. */
export async function revokeSessionsCommand(
  deps: Pick<Deps, 'db' | 'clock' | 'logger'>,
  ref: string,
): Promise<{ user: UserRef; revokedSessions: number }> {
  const user = await resolveUser(deps, ref);
  const result = await revokeAllSessions(deps, { userId: user.id, actor: 'admin' });
  if (!result) throw gone(ref);
  deps.logger.info({ userId: user.id, revokedSessions: result.revokedSessions }, 'admin: sessions revoked');
  return { user: refOf(user), revokedSessions: result.revokedSessions };
}

/** `delete`: see {@link deleteUser}; refused unless `confirmed` (`--yes`). */
export async function deleteUserCommand(
  deps: Pick<Deps, 'db' | 'clock' | 'logger'>,
  input: { ref: string; confirmed: boolean },
): Promise<{ user: UserRef; deleted: true }> {
  const { ref, confirmed } = input;
  // Checked here too, not only by the CLI, because the admin channel accepts any client.
  if (!confirmed) throw new AdminError('usage', 'delete removes the user for good; confirm with --yes.');
  const user = await resolveUser(deps, ref);
  if (!(await deleteUser(deps, { userId: user.id, actor: 'admin' }))) throw gone(ref);
  deps.logger.info({ userId: user.id }, 'admin: user deleted');
  return { user: refOf(user), deleted: true };
}

export interface KeyRotationResult {
  kid: string;
  activatesAt: string;
  created: boolean;
  retiring: Array<{ kid: string; retiresAt: string }>;
}

/** `keys:rotate`: see rotateSigningKeys in server/tokens/rotation.ts for the schedule. */
export async function rotateKeysCommand(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'logger'>,
): Promise<KeyRotationResult> {
  const rotation = await rotateSigningKeys(deps);
  deps.logger.info({ kid: rotation.kid, created: rotation.created }, 'admin: signing keys rotated');
  return {
    kid: rotation.kid,
    activatesAt: rotation.activatesAt.toISOString(),
    created: rotation.created,
    retiring: rotation.retiring.map((r) => ({ kid: r.kid, retiresAt: r.retiresAt.toISOString() })),
  };
}
