import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { signWebhookBody, verifyWebhookSignature } from '../../server/events/signature.js';

const secret = 'whsec-test-0123456789abcdefghijklmnop';
const body = '{"id":"3f1c2a9e-0000-4000-8000-000000000000","type":"session.created"}';
const at = new Date('2026-11-29T12:00:00.000Z');

describe('webhook signatures', () => {
  it('signs HMAC-SHA256 of "timestamp.body" with the unix timestamp in the header', () => {
    const header = signWebhookBody(secret, body, at);
    const t = at.getTime() / 1000;
    expect(header).toBe(`t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`);
  });

  it('accepts its own signature within the tolerance, either side', () => {
    const header = signWebhookBody(secret, body, at);
    expect(verifyWebhookSignature(secret, header, body, { now: at })).toBe(true);
    expect(verifyWebhookSignature(secret, header, body, { now: new Date(at.getTime() + 300_000) })).toBe(true);
    expect(verifyWebhookSignature(secret, header, body, { now: new Date(at.getTime() - 300_000) })).toBe(true);
    expect(
      verifyWebhookSignature(secret, header, body, { now: new Date(at.getTime() + 60_000), toleranceSeconds: 30 }),
    ).toBe(false);
  });

  it('rejects a replay outside the tolerance, a changed body, another secret and a moved timestamp', () => {
    const header = signWebhookBody(secret, body, at);
    expect(verifyWebhookSignature(secret, header, body, { now: new Date(at.getTime() + 301_000) })).toBe(false);
    expect(verifyWebhookSignature(secret, header, `${body} `, { now: at })).toBe(false);
    expect(verifyWebhookSignature('another-secret-0123456789abcdefghijkl', header, body, { now: at })).toBe(false);
    const moved = header.replace(/^t=(\d+)/, (_, t: string) => `t=${Number(t) + 1}`);
    expect(verifyWebhookSignature(secret, moved, body, { now: at })).toBe(false);
  });

  it('accepts a header with several v1 signatures when one matches (a receiver rotating secrets)', () => {
    const header = signWebhookBody(secret, body, at);
    const v1 = header.split(',v1=')[1]!;
    expect(
      verifyWebhookSignature(secret, `t=${at.getTime() / 1000},v1=${'0'.repeat(64)},v1=${v1}`, body, { now: at }),
    ).toBe(true);
  });

  it('rejects missing and malformed headers without throwing', () => {
    const header = signWebhookBody(secret, body, at);
    for (const bad of [
      null,
      undefined,
      '',
      'v1=abc',
      `t=${at.getTime() / 1000}`,
      header.replace('v1=', 'v0='),
      header.toUpperCase(),
      `${header}=x`,
      'x'.repeat(5000),
    ]) {
      expect(verifyWebhookSignature(secret, bad, body, { now: at })).toBe(false);
    }
  });
});

describe('webhook configuration', () => {
  it('is off by default', () => {
    expect(loadConfig({}).webhook).toEqual({
      url: null,
      secret: null,
      timeout: 10,
      maxAttempts: 12,
      interval: 5,
      retention: 604_800,
    });
  });

  it('reads the URL, the secret and the delivery settings', () => {
    const config = loadConfig({
      WEBHOOK_URL: 'https://hooks.example.com/auth',
      WEBHOOK_SECRET: secret,
      WEBHOOK_TIMEOUT: '5',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_INTERVAL: '2',
      WEBHOOK_RETENTION: '3600',
    });
    expect(config.webhook).toEqual({
      url: 'https://hooks.example.com/auth',
      secret,
      timeout: 5,
      maxAttempts: 3,
      interval: 2,
      retention: 3600,
    });
  });

  it('fails loudly on a bad URL, a short secret, one without the other, or out-of-range numbers', () => {
    const cases: Record<string, string>[] = [
      { WEBHOOK_URL: 'ftp://hooks.example.com/', WEBHOOK_SECRET: secret },
      { WEBHOOK_URL: 'https://user:pass@hooks.example.com/', WEBHOOK_SECRET: secret },
      { WEBHOOK_URL: 'https://hooks.example.com/', WEBHOOK_SECRET: 'short' },
      { WEBHOOK_URL: 'https://hooks.example.com/' },
      { WEBHOOK_SECRET: secret },
      { WEBHOOK_TIMEOUT: '0' },
      { WEBHOOK_TIMEOUT: '61' },
      { WEBHOOK_MAX_ATTEMPTS: '0' },
      { WEBHOOK_INTERVAL: 'soon' },
    ];
    for (const env of cases) expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
    expect(() => loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/' })).toThrow(
      /WEBHOOK_URL and WEBHOOK_SECRET must be set together/,
    );
  });
});
