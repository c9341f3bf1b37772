/** Formatting for the demo page: times, devices, activity. No DOM here. */

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];

/** "Mar 3, 2026, 10:04 AM", or the input when it is not a time. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : absolute.format(date);
}

/** "just now", "5 minutes ago", "in 7 days". */
export function formatRelative(iso: string, now = Date.now()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const seconds = Math.round((date.getTime() - now) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds / 60), 'minute');
}

/** "Chrome on Linux" from a User-Agent string; "Unknown device" without one. */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /OPR\//.test(userAgent)
      ? 'Opera'
      : /Firefox\//.test(userAgent)
        ? 'Firefox'
        : /(Headless)?Chrom(e|ium)\//.test(userAgent)
          ? 'Chrome'
          : /Safari\//.test(userAgent)
            ? 'Safari'
            : /curl|node|undici|python|Go-http/i.test(userAgent)
              ? 'A program'
              : 'A browser';
  const os = /iPhone|iPad|iPod/.test(userAgent)
    ? 'iOS'
    : /Android/.test(userAgent)
      ? 'Android'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(userAgent)
          ? 'macOS'
          : /CrOS/.test(userAgent)
            ? 'ChromeOS'
            : /Linux/.test(userAgent)
              ? 'Linux'
              : null;
  return os ? `${browser} on ${os}` : browser;
}

const activityLabels: Record<string, string> = {
  user_registered: 'Account created',
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in attempt',
  logout: 'Signed out',
  session_revoked: 'Session ended',
  passkey_added: 'Passkey added',
  passkey_renamed: 'Passkey renamed',
  passkey_deleted: 'Passkey deleted',
  reauthenticated: 'Identity confirmed',
  reauthentication_failed: 'Identity confirmation failed',
  recovery_codes_created: 'New recovery codes created',
  recovery_code_used: 'Recovery code used',
  recovery_failed: 'Failed recovery attempt',
  recovery_completed: 'Account recovered with a new passkey',
  counter_regression: 'Warning: a passkey may have been copied',
  display_name_changed: 'Display name changed',
  user_disabled: 'Account disabled',
  user_enabled: 'Account enabled',
};

const warningTypes: ReadonlySet<string> = new Set([
  'login_failed',
  'reauthentication_failed',
  'recovery_failed',
  'counter_regression',
  'user_disabled',
]);

/** A sentence for an activity event type. */
export function describeActivity(type: string): string {
  return activityLabels[type] ?? type.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

/** Whether an activity event deserves the user's attention. */
export function isWarning(type: string): boolean {
  return warningTypes.has(type);
}

const actors: Record<string, string> = { admin: 'by an administrator', system: 'automatically' };

/** "by an administrator" for changes the user did not make; empty for the user's own. */
export function describeActor(actor: string): string {
  return actors[actor] ?? '';
}
