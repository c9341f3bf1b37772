import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { androidOrigin } from '../../server/platform/origins.js';
import { createTestApp, origin, type TestApp } from '../helpers/app.js';
import { createSoftwareAuthenticator } from '../helpers/authenticator.js';
import { cookieOf, errorOf, signInFrom, signUpFrom, stepUpFrom } from './helpers.js';

const fingerprintOf = (certificate: string) =>
  createHash('sha256').update(certificate).digest('hex').toUpperCase().match(/../g)!.join(':');
const release = fingerprintOf('release certificate');
const upload = fingerprintOf('upload certificate');
const other = fingerprintOf('somebody else’s certificate');
const iosApp = 'ABCDE12345.com.example.passkeys';
// A native app's HTTP client sends no Fetch Metadata; it names the site it belongs to (README "Native apps").
const fromApp = { Origin: origin };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({
    ANDROID_APPS: `com.example.passkeys ${release} ${upload}, com.example.other ${fingerprintOf('x')}`,
    IOS_APPS: iosApp,
  });
});
afterAll(async () => {
  await t?.close();
});

describe('native app configuration', () => {
  it('reads ANDROID_APPS and IOS_APPS, and derives the apk-key-hash origins from the fingerprints', () => {
    const config = loadConfig({
      ANDROID_APPS: `com.example.app ${release.toLowerCase()}`,
      IOS_APPS: `${iosApp},ZZZZZ99999.org.example`,
    });
    expect(config.apps.android).toEqual([{ packageName: 'com.example.app', fingerprints: [release] }]);
    expect(config.apps.ios).toEqual([iosApp, 'ZZZZZ99999.org.example']);
    const hash = Buffer.from(release.replaceAll(':', ''), 'hex').toString('base64url');
    expect(androidOrigin(release)).toBe(`android:apk-key-hash:${hash}`);
    expect(hash).toHaveLength(43);
  });

  it.each([
    ['ANDROID_APPS', 'com.example.app'],
    ['ANDROID_APPS', `noDots ${release}`],
    ['ANDROID_APPS', 'com.example.app AB:CD'],
    ['IOS_APPS', 'com.example.app'],
    ['IOS_APPS', 'abc.com.example'],
  ])('refuses %s=%s with a clear error', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`${name}=`));
  });
});

describe('association files', () => {
  it('serves /.well-known/assetlinks.json as application/json', async () => {
    const response = await t.get('/.well-known/assetlinks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual([
      {
        relation: ['delegate_permission/common.get_login_creds'],
        target: {
          namespace: 'android_app',
          package_name: 'com.example.passkeys',
          sha256_cert_fingerprints: [release, upload],
        },
      },
      {
        relation: ['delegate_permission/common.get_login_creds'],
        target: {
          namespace: 'android_app',
          package_name: 'com.example.other',
          sha256_cert_fingerprints: [fingerprintOf('x')],
        },
      },
    ]);
  });

  it('serves /.well-known/apple-app-site-association as application/json, without a redirect', async () => {
    const response = await t.get('/.well-known/apple-app-site-association');
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ webcredentials: { apps: [iosApp] } });
  });
});

describe('ceremonies from native apps', () => {
  it('signs up, signs in and steps up from the Android app (origin android:apk-key-hash:…)', async () => {
    for (const fingerprint of [release, upload]) {
      const authenticator = createSoftwareAuthenticator({ origin: androidOrigin(fingerprint) });
      const username = `droid-${fingerprint.slice(0, 2).toLowerCase()}${fingerprint.slice(3, 5).toLowerCase()}`;
      expect((await signUpFrom(t, authenticator, username, fromApp)).status).toBe(201);
      const signIn = await signInFrom(t, authenticator, fromApp);
      expect(signIn.status).toBe(200);
      expect((await stepUpFrom(t, authenticator, cookieOf(signIn), fromApp)).status).toBe(200);
    }
  });

  it('signs up and signs in from the iOS app (origin https://<RP ID>)', async () => {
    const authenticator = createSoftwareAuthenticator({ origin: `https://${t.config.rpId}` });
    expect((await signUpFrom(t, authenticator, 'iphone-user', fromApp)).status).toBe(201);
    expect((await signInFrom(t, authenticator, fromApp)).status).toBe(200);
  });

  it('refuses an app signed with an unlisted certificate', async () => {
    const authenticator = createSoftwareAuthenticator({ origin: androidOrigin(other) });
    expect(await errorOf(await signUpFrom(t, authenticator, 'repackaged', fromApp))).toEqual({
      status: 400,
      code: 'verification_failed',
    });
    const known = createSoftwareAuthenticator({ origin: androidOrigin(release) });
    await signUpFrom(t, known, 'owner-of-key', fromApp);
    authenticator.credentials.push(...known.credentials);
    expect(await errorOf(await signInFrom(t, authenticator, fromApp))).toEqual({
      status: 401,
      code: 'verification_failed',
    });
  });

  it('keeps the contract’s CSRF rule: an app request with neither Origin nor Sec-Fetch-Site is refused', async () => {
    const response = await t.app.request('/auth/login/options', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(await errorOf(response)).toEqual({ status: 403, code: 'csrf' });
  });
});

describe('without native apps configured', () => {
  it('answers 404 for the association files and refuses app origins', async () => {
    const plain = await createTestApp();
    try {
      expect((await plain.get('/.well-known/assetlinks.json')).status).toBe(404);
      expect((await plain.get('/.well-known/apple-app-site-association')).status).toBe(404);
      const ios = createSoftwareAuthenticator({ origin: `https://${plain.config.rpId}` });
      expect(await errorOf(await signUpFrom(plain, ios, 'iphone-user', fromApp))).toEqual({
        status: 400,
        code: 'verification_failed',
      });
      const android = createSoftwareAuthenticator({ origin: androidOrigin(release) });
      expect(await errorOf(await signUpFrom(plain, android, 'droid', fromApp))).toEqual({
        status: 400,
        code: 'verification_failed',
      });
    } finally {
      await plain.close();
    }
  });
});
