import { inject } from 'vitest';
import { createDatabase, dropDatabase } from '../../../../scripts/lib/local-services.mjs';

/**
 * Superuser URL of the run's throwaway PostgreSQL cluster (started once by test/global-setup.ts).
 * Throws, failing the test, when PostgreSQL is not installed: such tests never skip silently.
 */
export function postgresAdminUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error(inject('postgresError') || 'PostgreSQL is not available');
  return url;
}

/** A new, empty database with a random name on the shared cluster; returns its URL. */
export async function createTestDatabase(prefix = 'latchkey_test'): Promise<string> {
  return createDatabase(postgresAdminUrl(), prefix);
}

/** Drops a database made by createTestDatabase (its open connections are terminated). */
export async function dropTestDatabase(url: string): Promise<void> {
  await dropDatabase(postgresAdminUrl(), url);
}
