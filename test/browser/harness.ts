import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { freePort } from '../helpers/free-port.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface RunningServer {
  /** `http://localhost:PORT` (WebAuthn refuses an IP address as rpId). */
  origin: string;
  process: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/**
 * Starts the real server from source (`server/main.ts` through tsx; `npm start` runs it compiled) on a free port with its own
 * embedded database folder, or on the PostgreSQL database named by DATABASE_URL.
 */
export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'auth-browser-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ORIGIN: origin,
      RP_ID: 'localhost',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running (and holding its data folder) once the caller gives up on it.
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output.join('')}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (chunk.toString().includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output.join('')}`));
    });
  });
  return {
    origin,
    process: child,
    output,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
  });
}

export type { VirtualAuthenticator } from '../../server/testing/playwright.js';
// The virtual authenticator helper is part of the public test kit; re-exported for the project's tests.
export { addVirtualAuthenticator } from '../../server/testing/playwright.js';

/** Collects console errors and uncaught page errors, to assert a clean console. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

export type { Browser, Page };

/** Where browser tests put screenshots (git-ignored). */
export const artifactsDir = path.join(root, 'test-artifacts', 'browser');

/** Saves a full-page screenshot as `test-artifacts/browser/<name>.png`, for a person to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
  return file;
}

/** The texts of the page's two live regions: progress/success (`#status`) and errors (`#error`). */
export async function notices(page: Page): Promise<{ status: string; error: string }> {
  return page.evaluate(() => ({
    status: document.getElementById('status')?.textContent ?? '',
    error: document.getElementById('error')?.textContent ?? '',
  }));
}

/**
 * Clicks a button that starts a modal WebAuthn ceremony on a page where presence is off (so that an
 * autofill offer waits), and plays the user who touches the authenticator. A virtual authenticator
 * never answers a modal request that reached it while presence was off, and answers a waiting
 * autofill request as soon as presence goes on; so the ceremony's options request is held at the
 * network layer until the click has ended the autofill offer and presence is on, then let through.
 */
export async function clickAndTouch(
  page: Page,
  selector: string,
  authenticator: { setAutomaticPresence(enabled: boolean): Promise<void> },
): Promise<void> {
  const optionsPath = /\/auth\/(login|register|reauth|passkeys)\/options$/;
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let passed = () => {};
  const continued = new Promise<void>((resolve) => (passed = resolve));
  const handler = async (route: import('playwright-core').Route) => {
    await held;
    // fallback(), not continue(): a test's own route for the same request (a stand-in answer) still applies.
    await route.fallback();
    passed();
  };
  const matches = (url: URL) => optionsPath.test(url.pathname);
  await page.route(matches, handler);
  try {
    await page.click(selector);
    await authenticator.setAutomaticPresence(true);
    release();
    await continued;
  } finally {
    release();
    await page.unroute(matches, handler).catch(() => {});
  }
}
