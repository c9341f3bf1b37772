/**
 * Takes the README's picture of the demo (`docs/demo.png`): a signed-in account view with two
 * passkeys, two sessions and some activity, in Chromium with virtual authenticators.
 *
 * Run: `npx tsx scripts/demo-screenshot.ts` (needs `npm run build:client` first and /usr/bin/chromium).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addVirtualAuthenticator, launchBrowser, startServer } from '../test/browser/harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [server, browser] = await Promise.all([startServer(), launchBrowser()]);
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 1150 }, colorScheme: 'light' });
  const page = await context.newPage();
  const laptop = await addVirtualAuthenticator(page);
  await page.goto(server.origin);
  await page.locator('#signed-out').waitFor();
  await page.fill('#signup-username', 'ada');
  await page.fill('#signup-display-name', 'Ada Lovelace');
  await page.click('#signup-button');
  await page.locator('#signed-in').waitFor();

  await laptop.setAutomaticPresence(false);
  const phone = await addVirtualAuthenticator(page, {
    transport: 'hybrid',
    defaultBackupEligibility: true,
    defaultBackupState: true,
  });
  await page.click('#add-passkey-button');
  await page.locator('#passkey-list > li:nth-child(2)').waitFor();
  await phone.setAutomaticPresence(false);
  await laptop.setAutomaticPresence(true);

  const first = page.locator('#passkey-list > li').first();
  await first.getByRole('button', { name: /^Rename passkey/ }).click();
  await page.getByLabel(/^New name for/).fill('MacBook Air');
  await page.getByLabel(/^New name for/).press('Enter');
  await first.locator('.passkey-name', { hasText: 'MacBook Air' }).waitFor();
  const second = page.locator('#passkey-list > li').nth(1);
  await second.getByRole('button', { name: /^Rename passkey/ }).click();
  await page.getByLabel(/^New name for/).fill('Pixel 9 (synced)');
  await page.getByLabel(/^New name for/).press('Enter');
  await second.locator('.passkey-name', { hasText: 'Pixel 9' }).waitFor();

  // A second browser signs in, with another user agent.
  const other = await browser.newContext({
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
  });
  const otherPage = await other.newPage();
  const otherAuthenticator = await addVirtualAuthenticator(otherPage);
  const [synced] = await phone.credentials();
  await otherAuthenticator.addCredential({ ...synced!, signCount: synced!.signCount + 10 });
  await otherPage.goto(server.origin); // autofill signs in
  await otherPage.locator('#signed-in').waitFor();

  await page.click('#create-codes-button');
  await page.locator('#recovery-codes').waitFor();
  await page.click('#codes-done-button');
  await page.reload();
  await page.locator('#session-list > li:nth-child(2)').waitFor();
  await page.mouse.move(0, 0);
  const file = path.join(root, 'docs/demo.png');
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  await other.close();
  await context.close();
} finally {
  await browser.close();
  await server.stop();
}
