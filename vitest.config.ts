import { configDefaults, defineConfig } from 'vitest/config';

const server = 'packages/server/test';

/** Every test file of the repository. */
const everything = ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts', 'apps/*/test/**/*.test.ts'];

/**
 * The HTTP suites, which run on both databases: every suite of test/features and test/http
 * builds its apps with createTestApp, whose database is the project's (LATCHKEY_TEST_DB). A new
 * suite there runs on both unless it is listed in `once`.
 */
const bothDatabases = [`${server}/features/**/*.test.ts`, `${server}/http/**/*.test.ts`, `${server}/test-database.test.ts`];

/** Suites about PostgreSQL alone (several instances on one database, the adapter itself). */
const postgresOnly = [`${server}/**/*.postgres.test.ts`, `${server}/store/postgres.test.ts`, `${server}/store/postgres/**/*.test.ts`];

/** Suites of test/features and test/http that run once, in the sqlite project, and why. */
const once = [
  // A case reads or writes the SQLite file itself, or builds its app on one (to run them on both,
  // move those cases into a file of their own).
  `${server}/features/admin/admin.test.ts`, // deleting a user removes every row: counted in SQLite
  `${server}/features/email/reset.test.ts`, // its own app with an SmtpMailer, on a SQLite file
  `${server}/features/factors/passkeys-outage.test.ts`, // locks the SQLite file from a second connection
  `${server}/features/health/health.test.ts`, // expects database: 'sqlite', removes the SQLite file
  `${server}/features/housekeeping/purge.test.ts`, // SqliteStore and its rows
  `${server}/features/sessions/bearer.test.ts`, // two cases read refresh_tokens rows in SQLite
  `${server}/features/user-transfer/import.test.ts`, // imports into a SQLite file
  `${server}/features/user-transfer/lifecycle.test.ts`, // imports into a SQLite file
  // Both adapters by name in their titles already.
  `${server}/http/adapters.test.ts`,
  // No database: units, or an embedded host on a SQLite file of its own.
  `${server}/features/email/templates.test.ts`,
  `${server}/features/oauth-provider/pages.test.ts`, // the provider's pages and headers: no app
  `${server}/features/user-transfer/parsers.test.ts`,
  `${server}/http/route-schemas.test.ts`,
  // Their own processes or Chromium.
  `${server}/features/api-docs/openapi.test.ts`, // Chromium renders /docs
  `${server}/features/console/console.test.ts`, // the console's files; starts `latchkey serve`
  `${server}/features/user-transfer/command.test.ts`, // runs `latchkey users import`
  `${server}/features/oauth-provider/pages-chromium.test.ts`, // Chromium drives the provider's pages
];

/** What every project shares (projects do not inherit the root's test options). */
const shared = {
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // These tests drive real processes, databases and Chromium on a shared 2-core machine. A test
  // that fails is run once more; one that fails twice fails the run. Retries show in the report.
  retry: 1,
} as const;

export default defineConfig({
  test: {
    // Two cores: argon2id hashing dominates; more workers only add contention. One pool for all
    // projects.
    maxWorkers: 2,
    minWorkers: 1,
    // One throwaway PostgreSQL cluster and Redis server for the whole run, shared by the projects
    // (the root's global setup runs once; what it provides is inherited): inject('postgresUrl').
    // Not repeated in the projects, which would start one more of each per project.
    globalSetup: [`${server}/support/global-setup.ts`],
    projects: [
      {
        test: {
          ...shared,
          // Every suite but the PostgreSQL-only ones; createTestApp uses SQLite.
          name: 'sqlite',
          include: everything,
          exclude: [...configDefaults.exclude, ...postgresOnly],
          env: { LATCHKEY_TEST_DB: 'sqlite' },
        },
      },
      {
        test: {
          ...shared,
          // The HTTP suites again, with createTestApp on a fresh PostgreSQL database per app, and
          // the PostgreSQL-only suites.
          name: 'postgres',
          include: [...bothDatabases, ...postgresOnly],
          exclude: [...configDefaults.exclude, ...once],
          env: { LATCHKEY_TEST_DB: 'postgres' },
        },
      },
    ],
  },
});
