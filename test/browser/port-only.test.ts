import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  type Browser,
  launchBrowser,
  type RunningServer,
  startServer,
  watchConsole,
} from './harness.js';

// The demo started as a newcomer starts it on another port: PORT alone, no ORIGIN, no RP_ID.
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ ORIGIN: '', RP_ID: '', DATABASE_URL: '' }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it('signs up in Chromium on a server started with only PORT, its origin following the port', async () => {
  expect(server.output.join('')).toContain(`"origins":["${server.origin}"]`);
  const page = await browser.newPage();
  const consoleErrors = watchConsole(page);
  await addVirtualAuthenticator(page);
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', 'portonly');
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => page.textContent('#whoami-username')).toBe('portonly');
  expect(consoleErrors).toEqual([]);
});
