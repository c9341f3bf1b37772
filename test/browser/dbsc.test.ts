import { chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  type Browser,
  chromiumArgs,
  type RunningServer,
  startServer,
  watchConsole,
} from './harness.js';

// DBSC behind Chromium's flags, with software keys (no TPM here); see docs/dbsc.md for what this shows.
const dbscFlags = `--enable-features=DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false,EnableBoundSessionCredentialsSoftwareKeysForManualTesting,DeviceBoundSessionsDevTools${process.env.DBSC_EXTRA_FEATURES ?? ''}`;
// DBSC_HEADFUL=1 (under xvfb-run) tries a headful Chromium.
const headful = process.env.DBSC_HEADFUL === '1';

let server: RunningServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ DBSC: 'on', DBSC_COOKIE_LIFETIME: '30' }),
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: !headful,
      args: [...chromiumArgs.filter((arg) => !headful || arg !== '--headless'), dbscFlags],
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The paths the server logged requests for (one JSON line per request). */
function requestedPaths(): string[] {
  return server.output
    .join('')
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line).path as string);
}

it('keeps the demo working with DBSC=on in Chromium (bound when Chromium registers, unbound otherwise)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  const cdp = await context.newCDPSession(page);
  const dbscEvents: unknown[] = [];
  cdp.on('Network.deviceBoundSessionEventOccurred' as never, (event: unknown) => dbscEvents.push(event));
  cdp.on('Network.deviceBoundSessionsAdded' as never, (event: unknown) => dbscEvents.push(event));
  await cdp.send('Network.enable');
  const devtools = await cdp.send('Network.enableDeviceBoundSessions' as never, { enable: true } as never).then(
    () => 'enabled',
    (error: Error) => `not available: ${error.message}`,
  );
  await addVirtualAuthenticator(page);
  const offers: string[] = [];
  page.on('response', (response) => {
    const offer = response.headers()['secure-session-registration'];
    if (offer)
      offers.push(
        `${new URL(response.url()).pathname}: ${offer.replace(/challenge="[^"]*"/, 'challenge="…"').replace(/authorization="[^"]*"/, 'authorization="…"')}`,
      );
  });

  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', 'dbsc-demo');
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => page.textContent('#whoami-username')).toBe('dbsc-demo');

  // Give Chromium's background registration a moment, then use the session again after a reload.
  await page.waitForTimeout(2000);
  await page.reload();
  await page.locator('#signed-in').waitFor();
  await expect.poll(() => page.textContent('#whoami-username')).toBe('dbsc-demo');

  const registered = requestedPaths().includes('/auth/dbsc/register');
  const boundCookie = (await context.cookies()).some((cookie) => cookie.name === '__Host-dbsc');
  if (registered && boundCookie) {
    // Bound: past the bound cookie's lifetime the page keeps working only through Chromium's refresh.
    await page.waitForTimeout(31_000);
    await page.reload();
    await page.locator('#signed-in').waitFor();
    expect(requestedPaths()).toContain('/auth/dbsc/refresh');
  }
  expect(offers.length).toBeGreaterThan(0);
  console.info(
    JSON.stringify({
      dbsc: {
        devtools,
        offers,
        registered,
        boundCookie,
        refreshed: requestedPaths().includes('/auth/dbsc/refresh'),
        events: dbscEvents.slice(0, 5),
      },
    }),
  );

  await page.click('#signout-button');
  await page.locator('#signed-out').waitFor();
  expect(consoleErrors).toEqual([]);
  await context.close();
}, 120_000);
