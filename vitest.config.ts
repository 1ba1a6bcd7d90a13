import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: argon2id hashing dominates; more workers only add contention.
    maxWorkers: 2,
    minWorkers: 1,
    // One throwaway PostgreSQL cluster and Redis server for the whole run: inject('postgresUrl').
    globalSetup: ['packages/server/test/support/global-setup.ts'],
    // These tests drive real processes, databases and Chromium on a shared 2-core machine. A test
    // that fails is run once more; one that fails twice fails the run. Retries show in the report.
    retry: 1,
  },
});
