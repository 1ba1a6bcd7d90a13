/**
 * Vitest global setup: one throwaway PostgreSQL cluster and one Redis server for the whole run,
 * on 127.0.0.1 and free ports, in temp directories; stopped by PID at the end. Test files read
 * their URLs with `inject('postgresUrl')` / `inject('redisUrl')` and create their own database
 * (test/support/postgres.ts) so that files stay independent.
 *
 * Missing binaries: under CI (CI=true) the run fails at once. Elsewhere the URL is provided empty
 * and every test that needs the service fails with a message saying what to install, while the
 * tests that do not need it still run. Nothing is ever skipped silently.
 */
import type { TestProject } from 'vitest/node';
import {
  findPostgresBin,
  findRedisServer,
  startPostgres,
  startRedis,
  type LocalServer,
  type PostgresCluster,
} from '../../../../scripts/lib/local-services.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the shared throwaway cluster ('' when PostgreSQL is not installed). */
    postgresUrl: string;
    /** Why postgresUrl is empty, for the failure message. */
    postgresError: string;
    /** redis://127.0.0.1:PORT of the shared throwaway server ('' when Redis is not installed). */
    redisUrl: string;
    redisError: string;
  }
}

const ci = process.env.CI === 'true' || process.env.CI === '1';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let postgres: PostgresCluster | undefined;
  let redis: LocalServer | undefined;
  const missing: string[] = [];
  if (!findPostgresBin()) missing.push('postgresql');
  if (!findRedisServer()) missing.push('redis-server');
  if (missing.length > 0 && ci) {
    throw new Error(`CI: ${missing.join(' and ')} not installed; scripts/ensure-system-deps.sh should have installed them`);
  }
  const started = Date.now();
  try {
    const [pg, rd] = await Promise.all([
      missing.includes('postgresql') ? undefined : startPostgres(),
      missing.includes('redis-server') ? undefined : startRedis(),
    ]);
    postgres = pg;
    redis = rd;
  } catch (err) {
    await postgres?.destroy();
    await redis?.stop();
    throw err;
  }
  const install = 'install it (scripts/ensure-system-deps.sh) to run this test';
  project.provide('postgresUrl', postgres?.url ?? '');
  project.provide('postgresError', postgres ? '' : `PostgreSQL is not installed: ${install}`);
  project.provide('redisUrl', redis?.url ?? '');
  project.provide('redisError', redis ? '' : `redis-server is not installed: ${install}`);
  if (missing.length > 0) process.stderr.write(`\n!! ${missing.join(', ')} missing: tests that need them will FAIL\n`);
  if (process.env.LATCHKEY_TEST_VERBOSE) {
    process.stderr.write(`global setup: postgres ${postgres?.url} redis ${redis?.url} in ${Date.now() - started} ms\n`);
  }

  return async () => {
    await Promise.all([postgres?.destroy(), redis?.stop()]);
  };
}
