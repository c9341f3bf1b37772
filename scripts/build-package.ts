import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { buildOpenApiDocument } from '../server/contract/openapi.js';
import { buildClient, emitDeclarations } from './build-client.js';
import { commandBundleOptions } from './command-bundle.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Options of {@link buildPackage}. */
export interface BuildPackageOptions {
  /** Also write the type declarations (default `true`); `npm start` skips them. */
  types?: boolean;
}

const node: BuildOptions = {
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};

/**
 * Builds the three packages as they are published:
 * - `passkey-auth-server` (this folder): `dist/` (the embedding API `index.js`, the test kit
 *   `testing.js`, `verify.js`, their shared code in `dist/chunks/`; the `bin.js` command with its
 *   dependencies bundled in, except PGlite, and its own chunks in `dist/bin/`), declarations
 *   in `dist/types/`, and `client/dist/` (the demo page and the browser client);
 * - `passkey-auth-client` (`packages/client/dist/`): `index.js` (ES module, `@simplewebauthn/browser`
 *   external), `browser.js` (self-contained, for a `<script type="module">` without a bundler), types;
 * - `passkey-auth-verify` (`packages/verify/dist/`): `index.js` (`jose` external) and `index.d.ts`.
 * Node code is compiled ahead of time: nothing runs through tsx or esbuild once installed.
 *
 * @example
 * await buildPackage();
 */
export async function buildPackage({ types = true }: BuildPackageOptions = {}): Promise<string[]> {
  const dist = path.join(root, 'dist');
  const clientDist = path.join(root, 'packages/client/dist');
  const verifyDist = path.join(root, 'packages/verify/dist');
  await Promise.all([
    rm(dist, { recursive: true, force: true }),
    rm(clientDist, { recursive: true, force: true }),
    rm(verifyDist, { recursive: true, force: true }),
  ]);
  const entries = {
    index: 'server/index.ts',
    testing: 'server/testing/index.ts',
    verify: 'server/verify.ts',
  };
  await Promise.all([
    buildClient({ types }),
    build({
      ...node,
      entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, path.join(root, file)])),
      outdir: dist,
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
    }),
    // The command, with its dependencies bundled in (scripts/command-bundle.ts).
    build({
      ...commandBundleOptions,
      entryPoints: { bin: path.join(root, 'server/bin.ts') },
      outdir: dist,
      chunkNames: 'bin/[name]-[hash]',
    }),
    build({ ...node, entryPoints: [path.join(root, 'server/verify.ts')], outfile: path.join(verifyDist, 'index.js') }),
    build({
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      sourcemap: true,
      logLevel: 'warning',
      entryPoints: [path.join(root, 'client/src/index.ts')],
      outfile: path.join(clientDist, 'index.js'),
      external: ['@simplewebauthn/browser'],
    }),
    build({
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      sourcemap: true,
      minify: true,
      logLevel: 'warning',
      entryPoints: [path.join(root, 'client/src/index.ts')],
      outfile: path.join(clientDist, 'browser.js'),
    }),
    types ? emitDeclarations('tsconfig.node-types.json') : undefined,
  ]);
  if (types) {
    await mkdir(verifyDist, { recursive: true });
    await Promise.all([
      cp(path.join(dist, 'types/verify.d.ts'), path.join(verifyDist, 'index.d.ts')),
      cp(path.join(root, 'client/dist/types'), path.join(clientDist, 'types'), { recursive: true }),
    ]);
  }
  // The HTTP API as OpenAPI 3.1 (the document `GET /openapi.json` serves), shipped as `passkey-auth-server/openapi.json`.
  await mkdir(dist, { recursive: true });
  await writeFile(path.join(dist, 'openapi.json'), `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
  return [dist, path.join(root, 'client/dist'), clientDist, verifyDist];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = performance.now();
  const written = await buildPackage({ types: !process.argv.includes('--no-types') });
  const ms = Math.round(performance.now() - started);
  console.log(`built ${written.map((file) => path.relative(process.cwd(), file)).join(', ')} in ${ms} ms`);
}
