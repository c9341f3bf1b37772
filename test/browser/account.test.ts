import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSoftwareAuthenticator, toVirtualCredential } from '../../server/testing/index.js';
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
  watchConsole,
} from './harness.js';

let server: RunningServer;
let browser: Browser;
// Usernames unique per run, should the server share a PostgreSQL database (DATABASE_URL) across runs.
const run = Math.random().toString(36).slice(2, 7);
const grace = `grace-${run}`;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const passkeyItems = (page: Page) => page.locator('#passkey-list > li');
const sessionItems = (page: Page) => page.locator('#session-list > li');

async function signUp(page: Page, username: string, displayName?: string): Promise<void> {
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', username);
  if (displayName) await page.fill('#signup-display-name', displayName);
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => passkeyItems(page).count()).toBe(1);
}

it('runs the whole account journey: passkeys, sessions on two browsers, recovery codes and activity', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const laptop = await addVirtualAuthenticator(page);

  // Signed out: sign-in and sign-up side by side.
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await screenshot(page, '01-signed-out');

  await signUp(page, grace, 'Grace Hopper');
  expect(await page.textContent('#whoami-username')).toBe(grace);
  expect(await page.textContent('#topbar-user')).toBe('Grace Hopper');
  expect((await notices(page)).status).toContain('Welcome, Grace Hopper');
  // This device is marked; the passkey is "This device only" (not backed up) and made this session.
  await expect.poll(() => sessionItems(page).count()).toBe(1);
  expect(await sessionItems(page).first().getAttribute('data-current')).toBe('true');
  expect(await sessionItems(page).first().textContent()).toContain('This device');
  const first = passkeyItems(page).first();
  expect(await first.textContent()).toContain('This device only');
  expect(await first.textContent()).toContain('Used for this session');
  expect(await page.locator('#activity-list > li[data-type="user_registered"]').count()).toBe(1);

  // A second passkey from a second authenticator (a security key that syncs: backed up). The
  // laptop's authenticator steps back, as a user picks the security key in the browser's dialog.
  await laptop.setAutomaticPresence(false);
  const securityKey = await addVirtualAuthenticator(page, {
    transport: 'usb',
    defaultBackupEligibility: true,
    defaultBackupState: true,
  });
  await page.click('#add-passkey-button');
  await expect.poll(() => passkeyItems(page).count()).toBe(2);
  expect(await securityKey.credentials()).toHaveLength(1);
  const second = passkeyItems(page).nth(1);
  expect(await second.textContent()).toContain('Synced');
  expect((await notices(page)).status).toMatch(/^Passkey ".+" added\.$/);
  await securityKey.setAutomaticPresence(false);
  await laptop.setAutomaticPresence(true);

  // Rename the first passkey, by keyboard: the rename field has a label and Enter saves.
  await first.getByRole('button', { name: /^Rename passkey/ }).click();
  const nameField = page.getByLabel(/^New name for/);
  expect(await nameField.evaluate((input) => input === document.activeElement)).toBe(true);
  await nameField.fill('Work laptop');
  await nameField.press('Enter');
  await expect.poll(() => first.locator('.passkey-name').textContent()).toBe('Work laptop');
  expect((await notices(page)).status).toBe('Passkey renamed to "Work laptop".');

  // Recovery codes: shown once, with the count.
  expect(await page.textContent('#recovery-remaining')).toContain('no recovery codes');
  await page.click('#create-codes-button');
  await page.locator('#recovery-codes').waitFor();
  const codes = await page.locator('#recovery-code-list code').allTextContents();
  expect(codes).toHaveLength(10);
  for (const code of codes) expect(code).toMatch(/^[0-9a-z]{4}(-[0-9a-z]{4}){3}$/);
  expect(await page.textContent('#recovery-remaining')).toBe('You have 10 unused recovery codes left.');
  await screenshot(page, '03-recovery-codes');
  await page.click('#codes-done-button');
  await page.locator('#recovery-codes').waitFor({ state: 'hidden' });
  expect(await page.locator('#recovery-code-list li').count()).toBe(0);

  // A second browser (another computer) signs in with the synced passkey.
  const otherContext = await browser.newContext({
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  });
  const otherPage = await otherContext.newPage();
  const otherConsoleErrors = watchConsole(otherPage);
  const otherAuthenticator = await addVirtualAuthenticator(otherPage, { automaticPresenceSimulation: false });
  const [synced] = await securityKey.credentials();
  await otherAuthenticator.addCredential({ ...synced!, signCount: synced!.signCount + 100 });
  await otherPage.goto(server.origin);
  await otherPage.locator('#signed-out').waitFor();
  await clickAndTouch(otherPage, '#signin-button', otherAuthenticator);
  await otherPage.locator('#signed-in').waitFor();
  expect(await otherPage.textContent('#whoami-username')).toBe(grace);
  // The risk signals saw a browser and OS this account had not used: the page says so.
  await expect.poll(() => otherPage.textContent('#signin-notice')).toContain('New sign-in from Firefox on Windows');

  // The first browser sees two sessions, this one marked, and signs the other one out.
  await page.reload();
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => sessionItems(page).count()).toBe(2);
  expect(await page.locator('#session-list > li[data-current="true"]').count()).toBe(1);
  await screenshot(page, '02-account');
  await page
    .locator('#session-list > li:not([data-current])')
    .getByRole('button', { name: /^Sign out/ })
    .click();
  await expect.poll(() => sessionItems(page).count()).toBe(1);
  expect(await page.locator('#session-list > li').getAttribute('data-current')).toBe('true');

  // The other browser is signed out at its next request, and says so. (Presence off: the
  // autofill offer on its signed-out page then waits instead of signing in again at once.)
  await otherAuthenticator.setAutomaticPresence(false);
  await otherPage.click('#add-passkey-button');
  await otherPage.locator('#signed-out').waitFor();
  expect((await notices(otherPage)).error).toContain('Your session has ended');
  expect(await otherAuthenticator.credentials()).toHaveLength(1);
  await otherContext.close();
  expect(otherConsoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  // The one 401 above is the revoked session's request: the expected answer, logged by Chromium.
  expect(otherConsoleErrors.length).toBeLessThanOrEqual(1);

  // Delete the security key's passkey (not the one of this session): a confirmation dialog first.
  await second.getByRole('button', { name: /^Delete passkey/ }).click();
  const dialog = page.locator('#confirm-dialog');
  await dialog.waitFor();
  expect(await dialog.textContent()).toContain('Sessions it started are ended');
  await screenshot(page, '04-confirm-delete');
  await page.click('#confirm-ok');
  await expect.poll(() => passkeyItems(page).count()).toBe(1);
  expect(await passkeyItems(page).first().locator('.passkey-name').textContent()).toBe('Work laptop');

  // Activity tells the story, newest first.
  const activity = await page
    .locator('#activity-list > li')
    .evaluateAll((items) => items.map((item) => item.getAttribute('data-type')));
  expect(activity.slice(0, 3)).toEqual(['passkey_deleted', 'session_revoked', 'login_succeeded']);
  expect(activity).toContain('recovery_codes_created');
  expect(activity).toContain('passkey_renamed');
  expect(activity).toContain('passkey_added');

  // The only passkey cannot be deleted, and the page says why without asking the server.
  await passkeyItems(page)
    .first()
    .getByRole('button', { name: /^Delete passkey/ })
    .click();
  expect((await notices(page)).error).toBe('You cannot delete your only passkey. Add another one first.');

  // Sign out, then sign back in with the button (autofill waits while presence is off).
  await laptop.setAutomaticPresence(false);
  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();
  expect((await notices(page)).status).toBe('You are signed out.');
  // The click ends the waiting autofill offer and opens the picker; the "user" then touches the key.
  await clickAndTouch(page, '#signin-button', laptop);
  await page.locator('#signed-in').waitFor();
  expect(await page.textContent('#whoami-username')).toBe(grace);

  // Sign out again, and sign in by autofill on page load.
  await laptop.setAutomaticPresence(false);
  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();
  // (Away from the page first: presence would also answer the autofill offer still waiting there.)
  await page.goto('about:blank');
  await laptop.setAutomaticPresence(true);
  await page.goto(server.origin);
  await page.locator('#signed-in').waitFor();
  await expect.poll(async () => (await notices(page)).status).toBe(`Signed in as ${grace}.`);

  expect(consoleErrors).toEqual([]);
  await context.close();
});

it('keeps every secret out of script reach: no session or access token in cookies or storage', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  await addVirtualAuthenticator(page);
  await signUp(page, `mallory-target-${run}`);

  const sessionToken = (await context.cookies()).find((c) => c.name === '__Host-session')!.value;
  const secret = sessionToken.split('.')[1]!;
  expect(secret.length).toBeGreaterThan(20);

  // An injected script (what an XSS would run) gets an access token through the client library,
  // as the page's own code would; the token lives in memory, never in storage.
  // (A string, so the test runner does not rewrite the dynamic import.)
  const injected = (await page.evaluate(`(async () => {
    const client = await import('/auth-client.js');
    const token = await client.getAccessToken();
    return {
      token,
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      indexedDB: (await indexedDB.databases()).map((db) => db.name),
    };
  })()`)) as { token: string; cookie: string; local: string; session: string; indexedDB: string[] };
  expect(injected.token.split('.')).toHaveLength(3);
  for (const place of [injected.cookie, injected.local, injected.session]) {
    expect(place).not.toContain(secret);
    expect(place).not.toContain(sessionToken);
    expect(place).not.toContain(injected.token);
  }
  expect(injected.cookie).toBe('');
  expect(injected.indexedDB).toEqual([]);

  // After more account actions (recovery codes shown on the page), still nothing in storage.
  await page.click('#create-codes-button');
  await page.locator('#recovery-codes').waitFor();
  const after = await page.evaluate(() => ({
    cookie: document.cookie,
    local: localStorage.length,
    session: sessionStorage.length,
  }));
  expect(after).toEqual({ cookie: '', local: 0, session: 0 });

  expect(consoleErrors).toEqual([]);
  await context.close();
});

it('recovers an account with a recovery code on a device without its passkey', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const authenticator = await addVirtualAuthenticator(page);
  await signUp(page, `lost-lucy-${run}`);
  await page.click('#create-codes-button');
  await page.locator('#recovery-codes').waitFor();
  const [code] = await page.locator('#recovery-code-list code').allTextContents();
  await authenticator.setAutomaticPresence(false);
  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();

  // The device is lost: its passkey is gone.
  await authenticator.clearCredentials();
  await page.click('#recover-details summary');
  await page.fill('#recover-username', `lost-lucy-${run}`);
  await page.fill('#recover-code', code!.toUpperCase());
  await page.click('#recover-button');
  await page.locator('#recovery-mode').waitFor();
  await expect.poll(async () => (await notices(page)).status).toContain('9 recovery codes left');
  await screenshot(page, '07-recovery-mode');

  await authenticator.setAutomaticPresence(true);
  await page.click('#recovery-add-passkey');
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => passkeyItems(page).count()).toBe(2);
  expect(await page.textContent('#recovery-remaining')).toBe('You have 9 unused recovery codes left.');
  const activity = await page
    .locator('#activity-list > li')
    .evaluateAll((items) => items.map((item) => item.getAttribute('data-type')));
  expect(activity).toContain('recovery_completed');

  expect(consoleErrors).toEqual([]);
  await context.close();
});

it('signs in, in the browser, with a passkey the software authenticator registered over HTTP (test kit)', async () => {
  // Registration without a browser: fast set-up for tests that start from an existing account.
  const software = createSoftwareAuthenticator({ origin: server.origin });
  const post = (pathname: string, body: unknown) =>
    fetch(server.origin + pathname, {
      method: 'POST',
      headers: { Origin: server.origin, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const options = await post('/auth/register/options', { username: `seeded-sam-${run}`, displayName: 'Sam Seed' });
  expect((await post('/auth/register/verify', software.createCredential(await options.json()))).status).toBe(201);

  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const authenticator = await addVirtualAuthenticator(page);
  await authenticator.addCredential(toVirtualCredential(software.credentials[0]!));
  await page.goto(server.origin); // autofill offers the passkey, and the "user" picks it
  await page.locator('#signed-in').waitFor();
  expect(await page.textContent('#whoami-display-name')).toBe('Sam Seed');
  expect((await authenticator.credentials())[0]!.signCount).toBe(1);

  expect(consoleErrors).toEqual([]);
  await context.close();
});
