import type { BuildOptions } from 'esbuild';

/**
 * How the server's command (`dist/bin.js`: `npm start`, `npx passkey-auth-server`) is bundled, shared
 * by the package build (scripts/build-package.ts) and the benchmark, which measures the server as it
 * ships (bench/server-process.ts). Its dependencies are bundled in: one tree-shaken module graph
 * instead of each package's starts in about 14 MB less memory. PGlite (loaded only when used) keeps
 * its WebAssembly and data files, so it stays a package; `pg-native` is optional and never loaded.
 */
export const commandBundleOptions: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['@electric-sql/pglite', '@electric-sql/pglite/*', 'pg-native'],
  // CommonJS dependencies call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  splitting: true,
};
