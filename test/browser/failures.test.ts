import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  type Browser,
  clickAndTouch,
  launchBrowser,
  notices,
  type Page,
  type RunningServer,
  screenshot,
  startServer,
  type VirtualAuthenticator,
  watchConsole,
} from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Step-up is needed once the last verification is older than this (the smallest allowed value).
const reauthWindowSeconds = 10;

let server: RunningServer;
let browser: Browser;
// Usernames unique per run, should the server share a PostgreSQL database (DATABASE_URL) across runs.
const run = Math.random().toString(36).slice(2, 7);
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-browser-failures-'));
  [server, browser] = await Promise.all([
    startServer({ DATA_DIR: dataDir, REAUTH_WINDOW: String(reauthWindowSeconds) }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs the admin CLI against the running server (through its admin channel). */
function admin(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // The server's own settings: its data folder (through its admin channel), or DATABASE_URL if set.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dataDir,
      ORIGIN: server.origin,
      RP_ID: 'localhost',
      LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`admin ${args.join(' ')} exited with ${code}: ${output}`)),
    );
  });
}

interface Visitor {
  page: Page;
  authenticator: VirtualAuthenticator;
  consoleErrors: string[];
  /** POST /auth/login/options requests so far: each is a sign-in attempt (button or autofill). */
  loginAttempts(): number;
  close(): Promise<void>;
}

async function visitor(): Promise<Visitor> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const authenticator = await addVirtualAuthenticator(page);
  let attempts = 0;
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/auth/login/options')) attempts++;
  });
  return { page, authenticator, consoleErrors, loginAttempts: () => attempts, close: () => context.close() };
}

/** Signs up, then signs out with presence off, so autofill waits on the signed-out page. */
async function signedUpAndOut({ page, authenticator }: Visitor, username: string): Promise<void> {
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', username);
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();
  await authenticator.setAutomaticPresence(false);
  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();
}

/** Clicks "Sign in with a passkey" with presence on, and waits for the error the page announces. */
async function failedSignIn({ page, authenticator }: Visitor): Promise<string> {
  // The click ends the waiting autofill offer and opens the picker; the "user" then touches the key.
  await clickAndTouch(page, '#signin-button', authenticator);
  // The first error announced (the autofill offer that restarts after it may announce progress next).
  let error = '';
  await expect.poll(async () => (error = (await notices(page)).error), { timeout: 15_000 }).not.toBe('');
  // Presence off: the restarted autofill offer now waits for the "user".
  await authenticator.setAutomaticPresence(false);
  return error;
}

/** Chromium logs every 4xx answer as a failed resource load; only the expected ones may appear. */
function unexpected(errors: string[], statuses: number[]): string[] {
  return errors.filter((error) => !statuses.some((status) => error.includes(`status of ${status}`)));
}

it('says what to do when the fingerprint or PIN is not verified, and offers autofill again', async () => {
  const v = await visitor();
  await signedUpAndOut(v, `uv-ursula-${run}`);

  // The authenticator cannot verify the user: Chromium ends the ceremony (NotAllowedError).
  await v.authenticator.setUserVerified(false);
  const attemptsBefore = v.loginAttempts();
  const message = await failedSignIn(v);
  expect(message).toMatch(/fingerprint, face or PIN was not confirmed/);
  // Autofill started again after the failure (a fresh challenge for it).
  await expect.poll(() => v.loginAttempts()).toBeGreaterThanOrEqual(attemptsBefore + 2);
  await screenshot(v.page, '05-error-user-verification');

  // An authenticator that answers without the UV flag: the server refuses it.
  await v.authenticator.setUserVerified(true);
  await v.authenticator.setResponseOverrides({ badUserVerification: true });
  expect(await failedSignIn(v)).toBe(
    'Your passkey could not be verified. Unlock it with your fingerprint, face or PIN when asked, then try again.',
  );
  await v.authenticator.setResponseOverrides({});

  expect(unexpected(v.consoleErrors, [401])).toEqual([]);
  await v.close();
});

it('refuses a bogus signature with a clear message, and signs in once the passkey answers honestly', async () => {
  const v = await visitor();
  await signedUpAndOut(v, `bogus-boris-${run}`);

  await v.authenticator.setResponseOverrides({ bogusSignature: true });
  expect(await failedSignIn(v)).toBe(
    'Your passkey could not be verified. Unlock it with your fingerprint, face or PIN when asked, then try again.',
  );
  expect(await v.page.locator('#signed-out').isVisible()).toBe(true);

  // The restarted autofill offer signs in once the authenticator is honest again.
  await v.authenticator.setResponseOverrides({});
  await v.authenticator.setAutomaticPresence(true);
  await v.page.reload();
  await v.page.locator('#signed-in').waitFor();

  expect(unexpected(v.consoleErrors, [401])).toEqual([]);
  await v.close();
});

it('tells a user whose passkey is unknown, or whose account is disabled, what to do', async () => {
  const v = await visitor();
  await signedUpAndOut(v, `deleted-dora-${run}`);
  await admin('delete', `deleted-dora-${run}`, '--yes');
  expect(await failedSignIn(v)).toBe(
    'This passkey is not registered here any more (it may have been deleted). Choose another passkey, or create an account.',
  );

  const w = await visitor();
  await signedUpAndOut(w, `disabled-dan-${run}`);
  await admin('disable', `disabled-dan-${run}`);
  expect(await failedSignIn(w)).toBe('This account is disabled. Contact support to have it enabled again.');
  await screenshot(w.page, '06-error-account-disabled');

  expect(unexpected(v.consoleErrors, [401])).toEqual([]);
  expect(unexpected(w.consoleErrors, [403])).toEqual([]);
  await Promise.all([v.close(), w.close()]);
});

it('says when the network is down and when there were too many attempts', async () => {
  const v = await visitor();
  await signedUpAndOut(v, `offline-otto-${run}`);

  await v.page.context().setOffline(true);
  expect(await failedSignIn(v)).toBe('You are offline. Reconnect to the internet and try again.');
  await v.page.context().setOffline(false);

  // The server's 429 answer (contract body, Retry-After), stood in for by the browser's network layer.
  await v.page.route('**/auth/login/options', (route) =>
    route.fulfill({
      status: 429,
      headers: { 'Content-Type': 'application/json', 'Retry-After': '30' },
      body: JSON.stringify({ error: { code: 'rate_limited', message: 'Too many requests' } }),
    }),
  );
  expect(await failedSignIn(v)).toBe('Too many attempts. Wait 30 seconds and try again.');
  await v.page.unroute('**/auth/login/options');

  expect(unexpected(v.consoleErrors, [429]).filter((e) => !/ERR_INTERNET_DISCONNECTED/.test(e))).toEqual([]);
  await v.close();
});

it('asks for the passkey again before a sensitive action once the last verification is old (step-up)', async () => {
  const v = await visitor();
  await v.page.goto(server.origin);
  await v.page.locator('#signed-out').waitFor();
  await v.page.fill('#signup-username', `stepup-stella-${run}`);
  await v.page.click('#signup-button');
  await v.page.locator('#signed-in').waitFor();
  const signedUpAt = Date.now();

  // Cancelled step-up: nothing changes, and the page says so.
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, signedUpAt + reauthWindowSeconds * 1000 + 500 - Date.now())),
  );
  await v.authenticator.setUserVerified(false);
  await v.page.click('#create-codes-button');
  await expect
    .poll(async () => (await notices(v.page)).error, { timeout: 15_000 })
    .toBe('The confirmation was cancelled, so nothing was changed.');
  expect(await v.page.locator('#recovery-codes').isVisible()).toBe(false);

  // Confirmed step-up: the codes are created after the passkey prompt, without a new session.
  await v.authenticator.setUserVerified(true);
  await v.page.click('#create-codes-button');
  await v.page.locator('#recovery-codes').waitFor();
  expect(await v.page.locator('#recovery-code-list li').count()).toBe(10);
  const types = await v.page
    .locator('#activity-list > li')
    .evaluateAll((items) => items.map((item) => item.getAttribute('data-type')));
  expect(types.slice(0, 2)).toEqual(['recovery_codes_created', 'reauthenticated']);
  expect(await v.page.locator('#session-list > li').count()).toBe(1);

  // The step-up 403 is the server asking for verification: the expected answer.
  expect(unexpected(v.consoleErrors, [403])).toEqual([]);
  await v.close();
});
