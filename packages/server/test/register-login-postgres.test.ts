/**
 * The whole register/login/me suite (register-login.test.ts) run a second time on PostgreSQL:
 * createTestApp gives each app a fresh database on the run's throwaway cluster when
 * LATCHKEY_TEST_DB=postgres. Each test file runs in its own process, so this setting does not
 * leak into other files. register-login.test.ts must therefore stay adapter-neutral (no direct
 * SQLite access); a case that cannot be should live in a SQLite-only file.
 */
process.env.LATCHKEY_TEST_DB = 'postgres';
await import('./features/auth/register-login.test.js');

const { it, expect } = await import('vitest');
const { createTestApp } = await import('./support/helpers.js');

it('the apps of this file really run on PostgreSQL', async () => {
  const t = await createTestApp();
  try {
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.json()).toMatchObject({ status: 'ok', database: 'postgres' });
    expect(t.config.databaseUrl).toMatch(/^postgres:\/\/.*\/latchkey_test_/);
  } finally {
    await t.close();
  }
});
