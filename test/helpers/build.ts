import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage } from '../../scripts/build-package.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = path.join(root, 'test-artifacts');

/**
 * Builds the packages (scripts/build-package.ts) once per test run, however many test files ask:
 * the build empties `dist/`, so two files building at once would pull it from under each other.
 * A directory is the lock (mkdir is atomic); the stamp names the run (the vitest process).
 */
export async function buildPackagesOnce(): Promise<void> {
  await mkdir(artifacts, { recursive: true });
  const lock = path.join(artifacts, 'build.lock');
  const stamp = path.join(artifacts, 'build.stamp');
  const run = String(process.ppid);
  for (;;) {
    try {
      await mkdir(lock);
    } catch {
      // A lock left by a killed run is stale after a few minutes.
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 300_000) await rm(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    try {
      if ((await readFile(stamp, 'utf8').catch(() => '')) !== run) {
        await buildPackage();
        await writeFile(stamp, run);
      }
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
    return;
  }
}
