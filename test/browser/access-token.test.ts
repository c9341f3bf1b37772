import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  type Browser,
  launchBrowser,
  type RunningServer,
  startServer,
  watchConsole,
} from './harness.js';

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  // BENCH_ROUTES mounts GET /bench/protected: a resource route that accepts only a Bearer access
  // token, verified against this server's signing keys (bench/routes.ts).
  [server, browser] = await Promise.all([startServer({ BENCH_ROUTES: '1' }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it('calls an API with an in-memory access token, which no storage holds, before or after a reload', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = watchConsole(page);
  await addVirtualAuthenticator(page);
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', `api-user-${Math.random().toString(36).slice(2, 7)}`);
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();

  // (Strings, so the test runner does not rewrite the dynamic import.)
  const call = `(async () => {
    const client = await import('/auth-client.js');
    const session = await client.getSession();
    const token = await client.getAccessToken();
    const answer = await client.authFetch('/bench/protected');
    const storage = [document.cookie, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage })];
    return { userId: session.user.id, token, status: answer.status, body: await answer.json(), storage };
  })()`;
  const first = (await page.evaluate(call)) as {
    userId: string;
    token: string;
    status: number;
    body: { sub: string };
    storage: string[];
  };
  expect(first.status).toBe(200);
  expect(first.body.sub).toBe(first.userId);
  expect(first.token.split('.')).toHaveLength(3);
  for (const place of first.storage) expect(place).not.toContain(first.token);

  // Without the token, the API refuses; the cookie alone is not a bearer credential.
  const bare = await page.evaluate(() => fetch('/bench/protected').then((r) => r.status));
  expect(bare).toBe(401);

  // After a reload the old token is gone from everything the page can read; a new one is minted.
  await page.reload();
  await page.locator('#signed-in').waitFor();
  const second = (await page.evaluate(call)) as typeof first;
  expect(second.status).toBe(200);
  for (const place of second.storage) {
    expect(place).not.toContain(first.token);
    expect(place).not.toContain(second.token);
  }
  // The expected 401 of the bare call above is the only console error.
  expect(consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  await context.close();
});
