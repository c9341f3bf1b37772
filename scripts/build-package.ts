import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { buildClient, emitDeclarations } from './build-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds everything the package's exports map names: `./client` (the browser ES module and its
 * types, via {@link buildClient}), `./testing` (`dist/testing.js`: the software authenticator and
 * the Playwright helper) and `./verify` (`dist/verify.js`: access-token verification for other
 * services), with declarations in `dist/types`. Node entry points keep their dependencies external.
 *
 * @example
 * await buildPackage();
 */
export async function buildPackage(): Promise<string[]> {
  const entries = { testing: 'server/testing/index.ts', verify: 'server/verify.ts' };
  const [client] = await Promise.all([
    buildClient(),
    build({
      entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, path.join(root, file)])),
      outdir: path.join(root, 'dist'),
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      logLevel: 'warning',
    }),
    emitDeclarations('tsconfig.node-types.json'),
  ]);
  return [...client, ...Object.keys(entries).map((name) => path.join(root, 'dist', `${name}.js`)), path.join(root, 'dist/types')];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = performance.now();
  const written = await buildPackage();
  const ms = Math.round(performance.now() - started);
  console.log(`built ${written.map((file) => path.relative(process.cwd(), file)).join(', ')} in ${ms} ms`);
}
