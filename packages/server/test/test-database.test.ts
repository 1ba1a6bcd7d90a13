/**
 * The HTTP suites run once per database as vitest projects (vitest.config.ts): project `sqlite`,
 * and project `postgres`, which sets LATCHKEY_TEST_DB=postgres so that createTestApp gives each
 * app a fresh database on the run's throwaway cluster. This checks that the apps of a project
 * really run on the database it is named for, so the project name in a report says where a case
 * ran. (It replaces the check of the former per-file shim register-login-postgres.test.ts.)
 */
import { expect, it } from 'vitest';
import { createTestApp } from './support/helpers.js';

it('createTestApp builds its apps on the database the project is named for', async ({ task }) => {
  const database = task.file.projectName;
  expect(['sqlite', 'postgres']).toContain(database);
  const t = await createTestApp();
  try {
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.json()).toMatchObject({ status: 'ok', database });
  } finally {
    await t.close();
  }
});
