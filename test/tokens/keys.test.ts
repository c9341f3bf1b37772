import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import type { AppEnv } from '../../server/http/env.js';
import { rotateSigningKeys } from '../../server/tokens/rotation.js';
import { verifyAccessToken } from '../../server/verify.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { checkedApp } from '../helpers/conformance.js';
import { decodePart } from './helpers.js';

const kek = randomBytes(32).toString('base64');
let t: TestApp;
let second: Hono<AppEnv>;
let cookie: string;

beforeAll(async () => {
  t = await createTestApp({ TOKEN_KEY_ENCRYPTION_KEY: kek });
  // A second instance: its own process memory (key cache), the same database and clock.
  second = checkedApp(createApp(t.deps));
  cookie = (await t.signUp('keyuser')).cookie;
});
afterAll(async () => {
  await t?.close();
});

const jwksOf = async (app: Hono<AppEnv>) =>
  (await (await app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] };
const kids = async (app: Hono<AppEnv>) => (await jwksOf(app)).keys.map((k) => k.kid).sort();
const mintOn = async (app: Hono<AppEnv>) => {
  const response = await app.request('/auth/token', { method: 'POST', headers: { Origin: origin, Cookie: cookie } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
};
const kidOf = (token: string) => decodePart(token, 0).kid as string;

describe('signing keys', () => {
  it('creates one first key when two instances start at once', async () => {
    const results = await Promise.all([jwksOf(t.app), jwksOf(second), mintOn(t.app), mintOn(second), jwksOf(second)]);
    const rows = await t.database.db.selectFrom('signing_key').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(results[0]).toEqual(results[1]);
    expect(kidOf(results[2] as string)).toBe(rows[0]!.kid);
    expect(kidOf(results[3] as string)).toBe(rows[0]!.kid);
  });

  it('seals the private key with AES-256-GCM when TOKEN_KEY_ENCRYPTION_KEY is set', async () => {
    const row = await t.database.db.selectFrom('signing_key').selectAll().executeTakeFirstOrThrow();
    expect(row.private_key_encryption).toBe('aes-256-gcm');
    // PKCS#8 DER starts with a SEQUENCE (0x30); the sealed form starts with its version byte.
    expect(row.private_key[0]).toBe(1);
    expect(JSON.stringify(row.public_jwk)).not.toContain('"d"');
  });

  it('fails loudly, without a token, on an instance with another or no encryption key', async () => {
    for (const env of [{ TOKEN_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, {}]) {
      const config = loadConfig({ ORIGIN: origin, ...env });
      const misconfigured = checkedApp(createApp({ ...t.deps, config, logger: pino({ level: 'silent' }) }));
      const response = await misconfigured.request('/auth/token', {
        method: 'POST',
        headers: { Origin: origin, Cookie: cookie },
      });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: { code: 'internal', message: expect.any(String) } });
    }
  });

  it('rotates: publishes first, signs after the JWKS cache age, retires after the longest token lifetime', async () => {
    const oldKid = (await kids(t.app))[0]!;
    const start = t.clock.now().getTime();
    const rotation = await rotateSigningKeys(t.deps);
    expect(rotation.created).toBe(true);
    expect(rotation.kid).not.toBe(oldKid);
    // JWKS max-age (300) + key refresh interval (60).
    expect(rotation.activatesAt.getTime()).toBe(start + 360_000);
    expect(rotation.retiring).toEqual([{ kid: oldKid, retiresAt: new Date(start + (360 + 60 + 300 + 60) * 1000) }]);

    // A second rotation while the new key waits creates nothing.
    const again = await rotateSigningKeys(t.deps);
    expect(again).toMatchObject({ kid: rotation.kid, created: false });
    expect(await t.database.db.selectFrom('signing_key').select('kid').execute()).toHaveLength(2);

    // Within the refresh interval an instance may still serve its cached set; after it, every
    // instance publishes both keys but still signs with the old one.
    t.clock.advance(60);
    expect(await kids(t.app)).toEqual([oldKid, rotation.kid].sort());
    expect(await kids(second)).toEqual([oldKid, rotation.kid].sort());
    expect(kidOf(await mintOn(t.app))).toBe(oldKid);

    // Just before activation: still the old key. A token signed now must outlive the switch.
    t.clock.advance(299);
    const lastOld = await mintOn(second);
    expect(kidOf(lastOld)).toBe(oldKid);
    t.clock.advance(1);
    expect(kidOf(await mintOn(t.app))).toBe(rotation.kid);
    expect(kidOf(await mintOn(second))).toBe(rotation.kid);

    // The last token of the old key still verifies against the published set until it expires.
    t.clock.advance(299);
    const published = await jwksOf(second);
    expect(published.keys.map((k) => k.kid)).toContain(oldKid);
    await expect(
      verifyAccessToken(lastOld, {
        jwks: published as never,
        issuer: origin,
        audience: origin,
        currentDate: t.clock.now(),
      }),
    ).resolves.toMatchObject({ iss: origin });

    // After retirement (and one refresh interval), the old key is gone from every instance.
    t.clock.advance((rotation.retiring[0]!.retiresAt.getTime() - t.clock.now().getTime()) / 1000 + 60);
    // Verified at a time within its lifetime, so only the missing key can refuse it.
    const withinLifetime = new Date((decodePart(lastOld, 1).iat as number) * 1000 + 10_000);
    expect(await kids(t.app)).toEqual([rotation.kid]);
    expect(await kids(second)).toEqual([rotation.kid]);
    await expect(
      verifyAccessToken(lastOld, {
        jwks: (await jwksOf(t.app)) as never,
        issuer: origin,
        audience: origin,
        currentDate: withinLifetime,
      }),
    ).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('records the rotation in the audit trail', async () => {
    const events = await t.database.db
      .selectFrom('audit_event')
      .selectAll()
      .where('type', '=', 'signing_key_rotated')
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'admin' });
  });
});

describe('token configuration', () => {
  it('refuses bad values at start', () => {
    expect(() => loadConfig({ TOKEN_LIFETIME: '301' })).toThrow(ConfigError);
    expect(() => loadConfig({ TOKEN_ALGORITHM: 'HS256' })).toThrow(ConfigError);
    expect(() => loadConfig({ TOKEN_KEY_ENCRYPTION_KEY: randomBytes(16).toString('base64') })).toThrow(ConfigError);
    expect(() => loadConfig({ INTROSPECTION_SECRET: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ SESSION_SECRET_GRACE: '3600' })).toThrow(ConfigError);
  });

  it('defaults to the contract values', () => {
    const config = loadConfig({ ORIGIN: 'https://auth.example.com', RP_ID: 'auth.example.com' });
    expect(config.tokens).toMatchObject({
      audience: 'https://auth.example.com',
      lifetime: 300,
      algorithm: 'ES256',
      jwksMaxAge: 300,
      keyEncryptionKey: null,
      introspectionSecret: null,
    });
    expect(config.session).toMatchObject({ secretRotationAge: 900, secretRotationGrace: 30 });
  });
});
