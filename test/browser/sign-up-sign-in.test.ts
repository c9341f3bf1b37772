import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  type Browser,
  clickAndTouch,
  launchBrowser,
  type RunningServer,
  startServer,
  watchConsole,
} from './harness.js';

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it('signs up with a passkey, signs out, and signs back in with the button and with autofill', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const authenticator = await addVirtualAuthenticator(page);
  // The virtual authenticator answers any pending request by itself while presence is simulated; off
  // while signed out, so autofill waits for the user as it would in real life.
  const presence = (enabled: boolean) =>
    authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', {
      authenticatorId: authenticator.authenticatorId,
      enabled,
    });

  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();

  await page.fill('#signup-username', 'Alice');
  await page.fill('#signup-display-name', 'Alice Liddell');
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => page.textContent('#whoami-username')).toBe('alice');
  expect(await page.textContent('#whoami-display-name')).toBe('Alice Liddell');

  // The passkey is a discoverable credential on the authenticator, for the right user.
  const credentials = await authenticator.credentials();
  expect(credentials).toHaveLength(1);
  expect(credentials[0]!.isResidentCredential).toBe(true);

  // The session cookie is HttpOnly: no page script can read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain('session');
  const cookie = (await context.cookies()).find((c) => c.name === '__Host-session');
  expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });

  await presence(false);
  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();
  expect((await context.cookies()).find((c) => c.name === '__Host-session')).toBeUndefined();

  // Button sign-in: the passkey picker, usernameless.
  // The click ends the waiting autofill offer and opens the picker; presence then answers it.
  await clickAndTouch(page, '#signin-button', authenticator);
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => page.textContent('#whoami-username')).toBe('alice');

  // Autofill sign-in: on load, conditional mediation offers the passkey and signs in.
  await presence(false);
  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();
  await presence(true);
  await page.reload();
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => page.textContent('#whoami-username')).toBe('alice');

  // The signed-out session check answers 200 (GET /auth/session/status): nothing in the console.
  expect(consoleErrors).toEqual([]);
  await context.close();
});

it('keeps the session only in an HttpOnly cookie the server can revoke', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await addVirtualAuthenticator(page);
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', 'bob');
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();

  const storage = await page.evaluate(() => ({
    cookie: document.cookie,
    local: JSON.stringify(localStorage),
    session: JSON.stringify(sessionStorage),
  }));
  const token = (await context.cookies()).find((c) => c.name === '__Host-session')!.value;
  for (const value of Object.values(storage)) expect(value).not.toContain(token.split('.')[1]);

  // Signing out from another tab of the same browser kills the token server-side: the page's next
  // session check finds no session.
  const response = await page.request.post(`${server.origin}/auth/logout`, { headers: { Origin: server.origin } });
  expect(response.status()).toBe(204);
  const check = await context.request.get(`${server.origin}/auth/session`, {
    headers: { Cookie: `__Host-session=${token}` },
  });
  expect(check.status()).toBe(401);
  await context.close();
});
