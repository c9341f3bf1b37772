import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Request } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runAdminCli } from '../../server/admin/cli.js';
import {
  addVirtualAuthenticator,
  type Browser,
  clickAndTouch,
  launchBrowser,
  type RunningServer,
  startServer,
} from './harness.js';

let server: RunningServer;
let browser: Browser;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-browser-signals-'));
  [server, browser] = await Promise.all([startServer({ DATA_DIR: dataDir }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function signUp(page: import('playwright-core').Page, username: string) {
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', username);
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();
}

it('makes one POST /auth/token for two tabs that ask for an access token at once (Web Locks + BroadcastChannel)', async () => {
  const context = await browser.newContext();
  const first = await context.newPage();
  await addVirtualAuthenticator(first);
  await signUp(first, `two-tabs-${Math.random().toString(36).slice(2, 7)}`);
  const second = await context.newPage();
  await second.goto(server.origin);
  await second.locator('#signed-in').waitFor();

  const tokenRequests: Request[] = [];
  context.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/auth/token') tokenRequests.push(request);
  });
  // Hold each token answer a little, so that the two tabs' requests overlap for sure.
  await context.route('**/auth/token', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await route.fallback();
  });
  // Each tab loads the client first (as a page using it would have), so that both listen on the
  // channel before either asks; then both ask at once.
  const load = `import('/auth-client.js').then((client) => { window.__authClient = client; client.clearAccessToken(); })`;
  await Promise.all([first.evaluate(load), second.evaluate(load)]);
  const ask = `window.__authClient.getAccessToken()`;
  const [a, b] = await Promise.all([first.evaluate(ask), second.evaluate(ask)]);
  expect(tokenRequests).toHaveLength(1);
  expect(a).toBe(b);
  expect(String(a).split('.')).toHaveLength(3);

  // A third ask in either tab is served from memory: still one request.
  expect(await second.evaluate(ask)).toBe(a);
  expect(tokenRequests).toHaveLength(1);
  await context.close();
});

/** Records every Signal API call the page makes, then lets the browser's own method run. */
const spyOnSignals = () => {
  const calls: { name: string; options: unknown }[] = [];
  (window as unknown as { __signals: typeof calls }).__signals = calls;
  const PKC = window.PublicKeyCredential as unknown as Record<
    string,
    ((options: unknown) => Promise<void>) | undefined
  >;
  for (const name of ['signalAllAcceptedCredentials', 'signalCurrentUserDetails', 'signalUnknownCredential']) {
    const original = PKC[name];
    if (typeof original !== 'function') continue;
    PKC[name] = function (this: unknown, options: unknown) {
      calls.push({ name, options: JSON.parse(JSON.stringify(options)) });
      return original.call(this, options);
    };
  }
};

it('calls the Signal API with the right arguments when the page loads signed in, and signalUnknownCredential for a deleted passkey', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(spyOnSignals);
  const authenticator = await addVirtualAuthenticator(page);
  const username = `signals-${Math.random().toString(36).slice(2, 7)}`;
  await signUp(page, username);
  const signals = () =>
    page.evaluate(() => (window as unknown as { __signals: { name: string; options: any }[] }).__signals);
  expect(await page.evaluate(() => typeof PublicKeyCredential.signalAllAcceptedCredentials)).toBe('function');

  await page.reload();
  await page.locator('#signed-in').waitFor();
  await expect
    .poll(async () => (await signals()).map((call) => call.name).sort())
    .toEqual(['signalAllAcceptedCredentials', 'signalCurrentUserDetails']);
  const [credential] = await authenticator.credentials();
  const b64url = (base64: string) => Buffer.from(base64, 'base64').toString('base64url');
  const userId = b64url(credential!.userHandle!);
  const calls = await signals();
  expect(calls.find((call) => call.name === 'signalAllAcceptedCredentials')!.options).toEqual({
    rpId: 'localhost',
    userId,
    allAcceptedCredentialIds: [b64url(credential!.credentialId)],
  });
  expect(calls.find((call) => call.name === 'signalCurrentUserDetails')!.options).toEqual({
    rpId: 'localhost',
    userId,
    name: username,
    displayName: username,
  });

  // The account is deleted on the server; its passkey stays on the authenticator.
  const out: string[] = [];
  const io = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => out.push(text) },
  };
  expect(await runAdminCli(['delete', username, '--yes'], { ...process.env, DATA_DIR: dataDir }, io as never)).toBe(0);
  await page.reload();
  await page.locator('#signed-out').waitFor();
  await authenticator.setAutomaticPresence(false);
  await clickAndTouch(page, '#signin-button', authenticator);
  await expect
    .poll(async () =>
      (await signals()).filter((call) => call.name === 'signalUnknownCredential').map((call) => call.options),
    )
    .toEqual([{ rpId: 'localhost', credentialId: b64url(credential!.credentialId) }]);
  await context.close();
});
