import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test time waits on a database (PGlite start-up, PostgreSQL round trips): more files at
    // once than cores keeps both cores busy.
    maxWorkers: 3,
  },
});
