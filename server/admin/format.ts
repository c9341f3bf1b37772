import type { AdminCommandName, KeyRotationResult, UserDetail, UserSummary } from './commands.js';

/** A time as `2026-11-29 12:34:56Z`, or `-`. */
function time(value: string | null | undefined): string {
  return value ? value.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function who(user: { username: string; id: string }): string {
  return `${user.username} (${user.id})`;
}

/** Human-readable text for a command's result (the CLI prints JSON instead with `--json`). */
export function formatAdminResult(command: AdminCommandName, result: unknown): string {
  switch (command) {
    case 'users': {
      const { users } = result as { users: UserSummary[] };
      if (users.length === 0) return 'No users.';
      return table(
        ['ID', 'USERNAME', 'CREATED', 'DISABLED', 'PASSKEYS', 'SESSIONS'],
        users.map((u) => [
          u.id,
          u.username,
          time(u.createdAt),
          time(u.disabledAt),
          String(u.passkeys),
          String(u.sessions),
        ]),
      );
    }
    case 'user': {
      const { user, passkeys, sessions, events } = result as UserDetail;
      const out = [
        `User        ${user.username}`,
        `ID          ${user.id}`,
        `Name        ${user.displayName}`,
        `Created     ${time(user.createdAt)}`,
        `Status      ${user.disabledAt ? `disabled since ${time(user.disabledAt)}` : 'active'}`,
        '',
        `Passkeys (${passkeys.length})`,
      ];
      if (passkeys.length > 0) {
        out.push(
          table(
            ['ID', 'NAME', 'CREATED', 'LAST USED', 'TYPE', 'BACKED UP'],
            passkeys.map((p) => [
              p.id.length > 22 ? `${p.id.slice(0, 20)}…` : p.id,
              p.name ?? '-',
              time(p.createdAt),
              time(p.lastUsedAt),
              p.deviceType,
              p.backedUp ? 'yes' : 'no',
            ]),
          ),
        );
      }
      out.push('', `Live sessions (${sessions.length})`);
      if (sessions.length > 0) {
        out.push(
          table(
            ['ID', 'CREATED', 'LAST SEEN', 'EXPIRES', 'IP', 'USER AGENT'],
            sessions.map((s) => [
              s.id,
              time(s.createdAt),
              time(s.lastSeenAt),
              time(s.expiresAt),
              s.ipAddress ?? '-',
              (s.userAgent ?? '-').slice(0, 60),
            ]),
          ),
        );
      }
      out.push('', `Recent events (${events.length})`);
      if (events.length > 0) {
        out.push(
          table(
            ['TIME', 'TYPE', 'ACTOR', 'REASON', 'IP'],
            events.map((e) => [time(e.createdAt), e.type, e.actor, e.reason ?? '-', e.ipAddress ?? '-']),
          ),
        );
      }
      return out.join('\n');
    }
    case 'disable': {
      const r = result as { user: { id: string; username: string }; changed: boolean; revokedSessions: number };
      const head = r.changed ? `Disabled ${who(r.user)}` : `${who(r.user)} was already disabled`;
      return `${head}; revoked ${r.revokedSessions} session(s).`;
    }
    case 'enable': {
      const r = result as { user: { id: string; username: string }; changed: boolean };
      return r.changed ? `Enabled ${who(r.user)}.` : `${who(r.user)} was not disabled; nothing changed.`;
    }
    case 'revoke-sessions': {
      const r = result as { user: { id: string; username: string }; revokedSessions: number };
      return `Revoked ${r.revokedSessions} session(s) of ${who(r.user)}.`;
    }
    case 'delete': {
      const r = result as { user: { id: string; username: string } };
      return `Deleted ${who(r.user)} with their passkeys and sessions.`;
    }
    case 'keys:rotate': {
      const r = result as KeyRotationResult;
      const lines = [
        r.created
          ? `Published new signing key ${r.kid}; it starts signing at ${time(r.activatesAt)}.`
          : `A rotation is already pending: key ${r.kid} starts signing at ${time(r.activatesAt)}. Nothing created.`,
      ];
      for (const old of r.retiring) lines.push(`Key ${old.kid} stays published until ${time(old.retiresAt)}.`);
      return lines.join('\n');
    }
  }
}
