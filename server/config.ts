/** Everything the server can be configured with. Built by {@link loadConfig}; pure data. */
export interface Config {
  port: number;
  host: string;
  rpId: string;
  rpName: string;
  /** Allowed origins; the first is the canonical one (token issuer). */
  origins: string[];
  /**
   * WebAuthn related origins (`RELATED_ORIGINS`): other https sites of the same product whose
   * ceremonies use this RP ID; listed at `GET /.well-known/webauthn` and accepted as ceremony origins.
   */
  relatedOrigins: string[];
  /** Native apps that sign in with the same passkeys (server/platform/). */
  apps: {
    /** `ANDROID_APPS`: each app's package name and SHA-256 signing certificate fingerprints. */
    android: AndroidApp[];
    /** `IOS_APPS`: app IDs `TEAMID.bundle.id`. */
    ios: string[];
  };
  /** Username-first sign-in for security keys (`LOGIN_ALLOW_CREDENTIALS`, server/passkeys/allow-credentials.ts). */
  login: {
    /** Put the named user's credentials in `allowCredentials` of `POST /auth/login/options`. */
    allowCredentials: boolean;
    /** The key of the fake, stable credential IDs answered for an unknown username; set exactly when `allowCredentials` is. */
    fakeCredentialSecret: string | null;
  };
  /** Device Bound Session Credentials (`DBSC`, server/dbsc/, docs/dbsc.md). */
  dbsc: {
    enabled: boolean;
    /** The short-lived cookie a bound session needs on every request. */
    cookieName: string;
    /** Its lifetime, in seconds: how long a copied short-lived cookie stays usable. */
    cookieLifetime: number;
  };
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
    /** Minting an access token rotates a session secret older than this, in seconds. */
    secretRotationAge: number;
    /** How long the secret before a rotation stays valid, in seconds; after it, presenting it revokes the session. */
    secretRotationGrace: number;
    /** Live sessions one user may have (`SESSION_LIMIT`); a sign-in beyond it revokes the least recently used. 0: no limit. */
    limit: number;
  };
  /** Access tokens (server/tokens/, README "Access tokens"). */
  tokens: {
    /** The `aud` claim; defaults to the issuer (the first origin). */
    audience: string;
    /** Lifetime of an access token, in seconds (at most 300). */
    lifetime: number;
    /** Algorithm of newly created signing keys. */
    algorithm: 'ES256' | 'EdDSA';
    /** `Cache-Control: max-age` of the JWKS, in seconds; a new key signs only after this (plus `keyRefreshInterval`). */
    jwksMaxAge: number;
    /** How often an instance re-reads the signing keys from the database, in seconds. */
    keyRefreshInterval: number;
    /** 32 bytes that seal the private signing keys in the database (AES-256-GCM), or null to store them unsealed. */
    keyEncryptionKey: Uint8Array | null;
    /** The secret services present to `POST /auth/introspect`; null turns introspection off. */
    introspectionSecret: string | null;
  };
  /** How long a challenge lives, in seconds (at most 300). */
  challengeTtl: number;
  /** How recent a verification must be for a step-up action, in seconds. */
  reauthWindow: number;
  /** Number of reverse proxies in front of the server whose `X-Forwarded-For` is trusted. */
  trustedProxies: number;
  logLevel: string;
  /** Bytes of log output held while the log consumer is not reading; past it, lines are dropped and counted. */
  logBufferBytes: number;
  /** After SIGTERM or SIGINT, how long requests in flight may take before the process exits anyway, in seconds. */
  shutdownTimeout: number;
  /**
   * Apply pending migrations at start (default). Turn off where a separate step migrates, e.g.
   * behind PgBouncer in transaction mode, where the Migrator's session-level lock does not belong.
   */
  migrateOnStart: boolean;
  /** Named prepared statements for the hot queries on PostgreSQL (off for PgBouncer before 1.21). */
  preparedStatements: boolean;
  /**
   * The session lookup over two pipelined connections of its own on PostgreSQL
   * (server/db/pipelined-reads.ts); by default on exactly when `preparedStatements` is.
   */
  pipelinedReads: boolean;
  /** The PostgreSQL connection pool of one instance. */
  databasePool: {
    /** Connections at most (`DATABASE_POOL_SIZE`). */
    size: number;
    /** Wait for a connection at most this long before answering 503, in ms. */
    connectTimeoutMs: number;
    /** A statement running longer is cancelled, in ms. */
    statementTimeoutMs: number;
  };
  /**
   * Where migrations run (`MIGRATION_DATABASE_URL`, default `DATABASE_URL`): a direct or session-mode
   * connection, since Kysely's Migrator holds a session-level lock across statements.
   */
  migrationDatabaseUrl: string | null;
  /** Prometheus metrics (server/metrics/); off unless `token` or `port` is set. */
  metrics: {
    /** Bearer token that `GET /metrics` on the main port requires; null keeps it off there. */
    token: string | null;
    /** A separate listener on 127.0.0.1 serving `GET /metrics` without a token; null for none. */
    port: number | null;
  };
  /**
   * Rate limits, counted in the database so every instance shares them. Each ceremony family
   * (`register`, `login`, `reauth`, `recovery`…) has its own counters; a limit of 0 turns it off.
   */
  rateLimits: {
    /** Length of the fixed window, in seconds. */
    windowSeconds: number;
    /** Requests per window from one client address (IPv6 grouped by /64), per ceremony family. */
    perAddress: number;
    /** Requests per window naming one username or credential ID, per ceremony family. */
    perIdentifier: number;
    /** Challenges one client address may have issued within one challenge lifetime. */
    challengesPerAddress: number;
  };
  /** The periodic deletion of expired challenges, sessions and counters. */
  sweep: {
    /** Seconds between runs; 0 turns the sweep off. */
    interval: number;
    /** How long an expired or revoked session is kept before it is deleted, in seconds. */
    sessionRetention: number;
  };
  /** Security events delivered to a webhook (server/events/, README "Security events"). */
  webhook: {
    /** Where events are POSTed, or null to deliver none (they are still written, then pruned). */
    url: string | null;
    /** The HMAC-SHA256 key of the `Webhook-Signature` header; set exactly when `url` is. */
    secret: string | null;
    /** Bound on one delivery attempt, in seconds. */
    timeout: number;
    /** Attempts before an event is given up (kept with `failed_at`). */
    maxAttempts: number;
    /** Seconds between dispatcher runs. */
    interval: number;
    /** How long delivered and given-up events are kept, in seconds. */
    retention: number;
  };
  /** Risk signals and what each one does (server/risk/, README "Risk signals"). */
  risk: {
    /** A session used from another browser family or operating system. */
    uaChange: SessionRiskAction;
    /** A session used from a network it was not used from before. */
    networkChange: SessionRiskAction;
    /** Both at once: another browser or OS from a new network. */
    uaAndNetworkChange: SessionRiskAction;
    /** A sign-in from a network none of the user's sessions has used. */
    signInNewNetwork: SignInRiskAction;
    /** A sign-in after many failed sign-ins for the account, or from the network, within `failureWindow`. */
    signInFailures: SignInRiskAction;
    /** The window in which failed sign-ins are counted, in seconds. */
    failureWindow: number;
    /** Failed sign-ins for one account within the window that make a burst; 0 turns the signal off. */
    accountFailures: number;
    /** Failed sign-ins from one network within the window that make a burst; 0 turns the signal off. */
    networkFailures: number;
  };
}

/** An Android app allowed to use the passkeys: `/.well-known/assetlinks.json` and its `android:apk-key-hash:` origins. */
export interface AndroidApp {
  packageName: string;
  /** SHA-256 fingerprints of the signing certificates, upper-case hex with colons (`AB:CD:…`, 32 bytes). */
  fingerprints: string[];
}

/** What a session-context signal does: only record it, require a passkey re-verification, or end the session. */
export type SessionRiskAction = 'record' | 'step-up' | 'revoke';
/** What a sign-in signal does: only record it, create the session with step-up required, or refuse the sign-in. */
export type SignInRiskAction = 'record' | 'step-up' | 'refuse';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/**
 * Variables whose value a configuration error never repeats: secrets, and URLs that may carry a
 * password. The error names the variable and what is expected, never what was given.
 */
export const secretVariables: ReadonlySet<string> = new Set([
  'DATABASE_URL',
  'INTROSPECTION_SECRET',
  'TOKEN_KEY_ENCRYPTION_KEY',
  'WEBHOOK_URL',
  'WEBHOOK_SECRET',
]);

/**
 * The origin used when `ORIGIN` is unset: `http://localhost:PORT` for the `localhost` RP ID (the
 * page is served by this very process), else `https://RP_ID` (a TLS-terminating proxy in front).
 */
export function defaultOrigin(port: number, rpId: string): string {
  return rpId === 'localhost' ? `http://localhost:${port}` : `https://${rpId}`;
}

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
      errors.push(
        secretVariables.has(name)
          ? `${name} (value not shown): expected ${expected}`
          : `${name}=${JSON.stringify(raw)}: expected ${expected}`,
      );
      return fallback;
    }
    return value;
  };
  const integer = (min: number, max: number) => (raw: string) => {
    if (!/^\d+$/.test(raw)) return undefined;
    const n = Number(raw);
    return n >= min && n <= max ? n : undefined;
  };
  const onOff = (raw: string) =>
    raw === 'on' || raw === 'true' ? true : raw === 'off' || raw === 'false' ? false : undefined;
  const boolean = (raw: string) => (raw === 'true' ? true : raw === 'false' ? false : undefined);
  const oneOf =
    <T extends string>(...values: T[]) =>
    (raw: string) =>
      (values as string[]).includes(raw) ? (raw as T) : undefined;

  const port = read('PORT', 3000, integer(0, 65535), 'a port number (0-65535)');
  const rpId = read(
    'RP_ID',
    'localhost',
    (raw) => (/^[a-z0-9.-]+$/i.test(raw) && !/^[\d.]+$/.test(raw) ? raw.toLowerCase() : undefined),
    'a domain name, not an IP address (WebAuthn refuses IPs)',
  );
  const origins = read(
    'ORIGIN',
    [defaultOrigin(port, rpId)],
    parseOrigins,
    'one or more comma-separated origins like https://example.com',
  );
  for (const origin of origins) {
    const host = new URL(origin).hostname;
    if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      errors.push(`ORIGIN ${origin} is not on RP_ID ${rpId} or one of its subdomains`);
    }
  }
  const relatedOrigins = read(
    'RELATED_ORIGINS',
    [] as string[],
    parseHttpsOrigins,
    'comma-separated https origins like https://shop.example.co.uk (no path)',
  );
  for (const related of relatedOrigins) {
    const host = new URL(related).hostname;
    if (origins.includes(related)) errors.push(`RELATED_ORIGINS ${related} is already in ORIGIN`);
    else if (host === rpId || host.endsWith(`.${rpId}`))
      errors.push(
        `RELATED_ORIGINS ${related} is on RP_ID ${rpId}: it needs no related-origin entry, list it in ORIGIN`,
      );
  }
  if (new Set(relatedOrigins).size !== relatedOrigins.length) errors.push('RELATED_ORIGINS lists an origin twice');
  const androidApps = read(
    'ANDROID_APPS',
    [] as AndroidApp[],
    parseAndroidApps,
    'comma-separated entries "package.name FINGERPRINT [FINGERPRINT…]", each fingerprint the SHA-256 of a signing certificate as 32 hex bytes with colons',
  );
  const iosApps = read(
    'IOS_APPS',
    [] as string[],
    parseIosApps,
    'comma-separated app IDs TEAMID.bundle.id (a 10-character team ID, then the bundle ID)',
  );
  const allowCredentials = read('LOGIN_ALLOW_CREDENTIALS', false, onOff, 'on or off');
  const fakeCredentialSecret = read(
    'LOGIN_ALLOW_CREDENTIALS_SECRET',
    null as string | null,
    (raw) => (raw.length >= 32 && raw.length <= 512 && /^[\x21-\x7e]+$/.test(raw) ? raw : undefined),
    '32 to 512 printable characters without spaces',
  );
  if (allowCredentials && fakeCredentialSecret === null)
    errors.push(
      'LOGIN_ALLOW_CREDENTIALS=on needs LOGIN_ALLOW_CREDENTIALS_SECRET (32+ random characters, the same on every instance)',
    );
  const databaseUrl = read(
    'DATABASE_URL',
    null as string | null,
    (raw) => (/^postgres(ql)?:\/\//.test(raw) ? raw : undefined),
    'a postgres:// URL',
  );
  const idleTimeout = read('SESSION_IDLE_TIMEOUT', 7 * 86400, integer(60, 365 * 86400), 'seconds (60 to 31536000)');
  const absoluteLifetime = read(
    'SESSION_ABSOLUTE_LIFETIME',
    30 * 86400,
    integer(60, 365 * 86400),
    'seconds (60 to 31536000)',
  );
  if (idleTimeout > absoluteLifetime) errors.push('SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_LIFETIME');

  const preparedStatements = read('DATABASE_PREPARED_STATEMENTS', true, boolean, 'true or false');

  const config: Config = {
    port,
    host: read('HOST', '0.0.0.0', (raw) => raw, 'a host'),
    rpId,
    rpName: read('RP_NAME', 'Passkey Auth', (raw) => (raw.length <= 64 ? raw : undefined), 'at most 64 characters'),
    origins,
    relatedOrigins,
    apps: { android: androidApps, ios: iosApps },
    login: { allowCredentials, fakeCredentialSecret: allowCredentials ? fakeCredentialSecret : null },
    dbsc: {
      enabled: read('DBSC', false, onOff, 'on or off'),
      cookieName: read(
        'DBSC_COOKIE_NAME',
        '__Host-dbsc',
        (raw) => (/^[A-Za-z0-9_-]+$/.test(raw) ? raw : undefined),
        'a cookie name',
      ),
      cookieLifetime: read('DBSC_COOKIE_LIFETIME', 600, integer(30, 3600), 'seconds (30 to 3600)'),
    },
    databaseUrl,
    dataDir: read('DATA_DIR', './.data', (raw) => raw, 'a folder'),
    userVerification: read(
      'USER_VERIFICATION',
      'required',
      oneOf('required', 'preferred', 'discouraged'),
      'required, preferred or discouraged',
    ),
    attestation: read('ATTESTATION', 'none', oneOf('none', 'direct'), 'none or direct'),
    session: {
      cookieName: read(
        'SESSION_COOKIE_NAME',
        '__Host-session',
        (raw) => (/^[A-Za-z0-9_-]+$/.test(raw) ? raw : undefined),
        'a cookie name',
      ),
      idleTimeout,
      absoluteLifetime,
      touchInterval: read('SESSION_TOUCH_INTERVAL', 60, integer(1, 86400), 'seconds (1 to 86400)'),
      secretRotationAge: read('SESSION_SECRET_ROTATION_AGE', 900, integer(60, 86400), 'seconds (60 to 86400)'),
      secretRotationGrace: read('SESSION_SECRET_GRACE', 30, integer(0, 300), 'seconds (0 to 300)'),
      limit: read('SESSION_LIMIT', 0, integer(0, 10_000), 'a count of sessions per user (0 turns the limit off)'),
    },
    tokens: {
      audience: read(
        'TOKEN_AUDIENCE',
        origins[0] ?? '',
        (raw) => (raw.length <= 256 && !/[\u0000-\u001f\u007f\s,]/.test(raw) ? raw : undefined),
        'one audience (at most 256 characters, no spaces or commas)',
      ),
      lifetime: read('TOKEN_LIFETIME', 300, integer(10, 300), 'seconds (10 to 300)'),
      algorithm: read('TOKEN_ALGORITHM', 'ES256', oneOf('ES256', 'EdDSA'), 'ES256 or EdDSA'),
      jwksMaxAge: read('JWKS_MAX_AGE', 300, integer(0, 3600), 'seconds (0 to 3600)'),
      keyRefreshInterval: read('SIGNING_KEY_REFRESH_INTERVAL', 60, integer(1, 300), 'seconds (1 to 300)'),
      keyEncryptionKey: read(
        'TOKEN_KEY_ENCRYPTION_KEY',
        null as Uint8Array | null,
        parseKeyEncryptionKey,
        '32 bytes in base64 (openssl rand -base64 32)',
      ),
      introspectionSecret: read(
        'INTROSPECTION_SECRET',
        null as string | null,
        (raw) => (raw.length >= 32 && raw.length <= 512 && /^[\x21-\x7e]+$/.test(raw) ? raw : undefined),
        '32 to 512 printable characters without spaces',
      ),
    },
    challengeTtl: read('CHALLENGE_TTL', 300, integer(10, 300), 'seconds (10 to 300)'),
    reauthWindow: read('REAUTH_WINDOW', 300, integer(10, 86400), 'seconds (10 to 86400)'),
    trustedProxies: read('TRUSTED_PROXIES', 0, integer(0, 10), 'a count of proxies (0 to 10)'),
    migrateOnStart: read('MIGRATE_ON_START', true, boolean, 'true or false'),
    preparedStatements,
    pipelinedReads: read('DATABASE_PIPELINED_READS', preparedStatements, boolean, 'true or false'),
    databasePool: {
      size: read('DATABASE_POOL_SIZE', 10, integer(1, 1000), 'a count of connections (1 to 1000)'),
      connectTimeoutMs: read(
        'DATABASE_CONNECT_TIMEOUT_MS',
        3000,
        integer(100, 120_000),
        'milliseconds (100 to 120000)',
      ),
      statementTimeoutMs: read(
        'DATABASE_STATEMENT_TIMEOUT_MS',
        10_000,
        integer(100, 3_600_000),
        'milliseconds (100 to 3600000)',
      ),
    },
    migrationDatabaseUrl: read(
      'MIGRATION_DATABASE_URL',
      databaseUrl,
      (raw) => (/^postgres(ql)?:\/\//.test(raw) ? raw : undefined),
      'a postgres:// URL',
    ),
    metrics: {
      token: read(
        'METRICS_TOKEN',
        null as string | null,
        (raw) => (raw.length >= 32 && raw.length <= 512 && /^[\x21-\x7e]+$/.test(raw) ? raw : undefined),
        '32 to 512 printable characters without spaces',
      ),
      port: read('METRICS_PORT', null as number | null, integer(1, 65535), 'a port number (1-65535)'),
    },
    shutdownTimeout: read('SHUTDOWN_TIMEOUT', 10, integer(1, 600), 'seconds (1 to 600)'),
    logBufferBytes: read(
      'LOG_BUFFER_BYTES',
      1024 * 1024,
      integer(4096, 256 * 1024 * 1024),
      'bytes (4096 to 268435456)',
    ),
    logLevel: read(
      'LOG_LEVEL',
      'info',
      oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
      'fatal, error, warn, info, debug, trace or silent',
    ),
    rateLimits: {
      windowSeconds: read('RATE_LIMIT_WINDOW', 60, integer(1, 86400), 'seconds (1 to 86400)'),
      perAddress: read('RATE_LIMIT_PER_ADDRESS', 60, integer(0, 1_000_000), 'a count (0 turns it off)'),
      perIdentifier: read('RATE_LIMIT_PER_IDENTIFIER', 30, integer(0, 1_000_000), 'a count (0 turns it off)'),
      challengesPerAddress: read(
        'RATE_LIMIT_CHALLENGES_PER_ADDRESS',
        100,
        integer(0, 1_000_000),
        'a count (0 turns it off)',
      ),
    },
    sweep: {
      interval: read('SWEEP_INTERVAL', 60, integer(0, 86400), 'seconds (0 turns it off, at most 86400)'),
      sessionRetention: read('SESSION_RETENTION', 7 * 86400, integer(0, 365 * 86400), 'seconds (0 to 31536000)'),
    },
    webhook: {
      url: read(
        'WEBHOOK_URL',
        null as string | null,
        parseWebhookUrl,
        'an http:// or https:// URL without credentials',
      ),
      secret: read(
        'WEBHOOK_SECRET',
        null as string | null,
        (raw) => (raw.length >= 32 && raw.length <= 512 && /^[\x21-\x7e]+$/.test(raw) ? raw : undefined),
        '32 to 512 printable characters without spaces',
      ),
      timeout: read('WEBHOOK_TIMEOUT', 10, integer(1, 60), 'seconds (1 to 60)'),
      maxAttempts: read('WEBHOOK_MAX_ATTEMPTS', 12, integer(1, 50), 'a count (1 to 50)'),
      interval: read('WEBHOOK_INTERVAL', 5, integer(1, 3600), 'seconds (1 to 3600)'),
      retention: read('WEBHOOK_RETENTION', 7 * 86400, integer(3600, 365 * 86400), 'seconds (3600 to 31536000)'),
    },
    risk: {
      uaChange: read(
        'RISK_POLICY_UA_CHANGE',
        'step-up',
        oneOf<SessionRiskAction>('record', 'step-up', 'revoke'),
        'record, step-up or revoke',
      ),
      networkChange: read(
        'RISK_POLICY_NETWORK_CHANGE',
        'record',
        oneOf<SessionRiskAction>('record', 'step-up', 'revoke'),
        'record, step-up or revoke',
      ),
      uaAndNetworkChange: read(
        'RISK_POLICY_UA_AND_NETWORK_CHANGE',
        'step-up',
        oneOf<SessionRiskAction>('record', 'step-up', 'revoke'),
        'record, step-up or revoke',
      ),
      signInNewNetwork: read(
        'RISK_POLICY_SIGNIN_NEW_NETWORK',
        'record',
        oneOf<SignInRiskAction>('record', 'step-up', 'refuse'),
        'record, step-up or refuse',
      ),
      signInFailures: read(
        'RISK_POLICY_SIGNIN_FAILURES',
        'record',
        oneOf<SignInRiskAction>('record', 'step-up', 'refuse'),
        'record, step-up or refuse',
      ),
      failureWindow: read('RISK_SIGNIN_FAILURE_WINDOW', 900, integer(60, 86400), 'seconds (60 to 86400)'),
      accountFailures: read('RISK_SIGNIN_ACCOUNT_FAILURES', 5, integer(0, 1_000_000), 'a count (0 turns it off)'),
      networkFailures: read('RISK_SIGNIN_NETWORK_FAILURES', 20, integer(0, 1_000_000), 'a count (0 turns it off)'),
    },
  };
  if (config.migrationDatabaseUrl !== null && databaseUrl === null)
    errors.push('MIGRATION_DATABASE_URL needs DATABASE_URL');
  if (config.metrics.port !== null && config.metrics.port === port) errors.push('METRICS_PORT must differ from PORT');
  if (config.dbsc.enabled && config.dbsc.cookieName === config.session.cookieName)
    errors.push('DBSC_COOKIE_NAME must differ from SESSION_COOKIE_NAME');
  if ((config.webhook.url === null) !== (config.webhook.secret === null))
    errors.push('WEBHOOK_URL and WEBHOOK_SECRET must be set together');
  if (errors.length > 0) throw new ConfigError(`Invalid configuration:\n  ${errors.join('\n  ')}`);
  return config;
}

function parseKeyEncryptionKey(raw: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) return undefined;
  const bytes = Buffer.from(raw, 'base64');
  return bytes.byteLength === 32 ? new Uint8Array(bytes) : undefined;
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
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value.replace(/\/$/, ''))
      return undefined;
    origins.push(url.origin);
  }
  return origins.length > 0 ? origins : undefined;
}

function parseHttpsOrigins(raw: string): string[] | undefined {
  const origins = parseOrigins(raw);
  // Browsers only make related origin requests from secure contexts, and the list is fetched over https.
  if (origins === undefined || origins.some((origin) => !origin.startsWith('https://'))) return undefined;
  return origins.length <= 50 ? origins : undefined;
}

function parseAndroidApps(raw: string): AndroidApp[] | undefined {
  const apps: AndroidApp[] = [];
  for (const entry of raw.split(',')) {
    const [packageName, ...fingerprints] = entry.trim().split(/\s+/);
    if (packageName === undefined || packageName === '') continue;
    // Android package names: dot-separated Java identifiers, at least two segments.
    if (!/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/.test(packageName) || fingerprints.length === 0)
      return undefined;
    const normalized = fingerprints.map((fingerprint) => fingerprint.toUpperCase());
    if (!normalized.every((fingerprint) => /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/.test(fingerprint))) return undefined;
    apps.push({ packageName, fingerprints: normalized });
  }
  return apps.length > 0 ? apps : undefined;
}

function parseIosApps(raw: string): string[] | undefined {
  const apps = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return apps.length > 0 && apps.every((app) => /^[A-Z0-9]{10}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(app))
    ? apps
    : undefined;
}

function parseWebhookUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  // Credentials in the URL would end up in logs; the signature authenticates the sender instead.
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '')
    return undefined;
  return url.toString();
}
