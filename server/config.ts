/** Everything the server can be configured with. Built by {@link loadConfig}; pure data. */
export interface Config {
  port: number;
  host: string;
  rpId: string;
  rpName: string;
  /** Allowed origins; the first is the canonical one (token issuer). */
  origins: string[];
  /** `postgres://…`, or null for embedded PGlite under `dataDir`. */
  databaseUrl: string | null;
  dataDir: string;
  userVerification: 'required' | 'preferred' | 'discouraged';
  attestation: 'none' | 'direct';
  session: {
    cookieName: string;
    /** Sliding idle timeout, in seconds. */
    idleTimeout: number;
    /** Absolute lifetime, in seconds. */
    absoluteLifetime: number;
    /** `last_seen_at` is written at most this often, in seconds. */
    touchInterval: number;
  };
  /** How long a challenge lives, in seconds (at most 300). */
  challengeTtl: number;
  /** How recent a verification must be for a step-up action, in seconds. */
  reauthWindow: number;
  /** Number of reverse proxies in front of the server whose `X-Forwarded-For` is trusted. */
  trustedProxies: number;
  logLevel: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/**
 * Reads and validates configuration from environment variables. Throws a {@link ConfigError} that
 * names the variable and what is expected, so a bad deployment fails at start, not at first use.
 */
export function loadConfig(env: Env = {}): Config {
  const errors: string[] = [];
  const read = <T>(name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = parse(raw.trim());
    if (value === undefined) {
      errors.push(`${name}=${JSON.stringify(raw)}: expected ${expected}`);
      return fallback;
    }
    return value;
  };
  const integer = (min: number, max: number) => (raw: string) => {
    if (!/^\d+$/.test(raw)) return undefined;
    const n = Number(raw);
    return n >= min && n <= max ? n : undefined;
  };
  const oneOf = <T extends string>(...values: T[]) => (raw: string) =>
    (values as string[]).includes(raw) ? (raw as T) : undefined;

  const port = read('PORT', 3000, integer(0, 65535), 'a port number (0-65535)');
  const rpId = read('RP_ID', 'localhost', (raw) => (/^[a-z0-9.-]+$/i.test(raw) && !/^[\d.]+$/.test(raw) ? raw.toLowerCase() : undefined), 'a domain name, not an IP address (WebAuthn refuses IPs)');
  const origins = read('ORIGIN', ['http://localhost:3000'], parseOrigins, 'one or more comma-separated origins like https://example.com');
  for (const origin of origins) {
    const host = new URL(origin).hostname;
    if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      errors.push(`ORIGIN ${origin} is not on RP_ID ${rpId} or one of its subdomains`);
    }
  }
  const databaseUrl = read('DATABASE_URL', null as string | null, (raw) => (/^postgres(ql)?:\/\//.test(raw) ? raw : undefined), 'a postgres:// URL');
  const idleTimeout = read('SESSION_IDLE_TIMEOUT', 7 * 86400, integer(60, 365 * 86400), 'seconds (60 to 31536000)');
  const absoluteLifetime = read('SESSION_ABSOLUTE_LIFETIME', 30 * 86400, integer(60, 365 * 86400), 'seconds (60 to 31536000)');
  if (idleTimeout > absoluteLifetime) errors.push('SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_LIFETIME');

  const config: Config = {
    port,
    host: read('HOST', '0.0.0.0', (raw) => raw, 'a host'),
    rpId,
    rpName: read('RP_NAME', 'Passkey Auth', (raw) => (raw.length <= 64 ? raw : undefined), 'at most 64 characters'),
    origins,
    databaseUrl,
    dataDir: read('DATA_DIR', './.data', (raw) => raw, 'a folder'),
    userVerification: read('USER_VERIFICATION', 'required', oneOf('required', 'preferred', 'discouraged'), 'required, preferred or discouraged'),
    attestation: read('ATTESTATION', 'none', oneOf('none', 'direct'), 'none or direct'),
    session: {
      cookieName: read('SESSION_COOKIE_NAME', '__Host-session', (raw) => (/^[A-Za-z0-9_-]+$/.test(raw) ? raw : undefined), 'a cookie name'),
      idleTimeout,
      absoluteLifetime,
      touchInterval: read('SESSION_TOUCH_INTERVAL', 60, integer(1, 86400), 'seconds (1 to 86400)'),
    },
    challengeTtl: read('CHALLENGE_TTL', 300, integer(10, 300), 'seconds (10 to 300)'),
    reauthWindow: read('REAUTH_WINDOW', 300, integer(10, 86400), 'seconds (10 to 86400)'),
    trustedProxies: read('TRUSTED_PROXIES', 0, integer(0, 10), 'a count of proxies (0 to 10)'),
    logLevel: read('LOG_LEVEL', 'info', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), 'fatal, error, warn, info, debug, trace or silent'),
  };
  if (errors.length > 0) throw new ConfigError(`Invalid configuration:\n  ${errors.join('\n  ')}`);
  return config;
}

function parseOrigins(raw: string): string[] | undefined {
  const origins: string[] = [];
  for (const part of raw.split(',')) {
    const value = part.trim();
    if (value === '') continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return undefined;
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value.replace(/\/$/, '')) return undefined;
    origins.push(url.origin);
  }
  return origins.length > 0 ? origins : undefined;
}
