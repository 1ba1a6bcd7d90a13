import { sqlitePathFromUrl } from './database-url.js';
import { SqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export type { Store } from './types.js';

export interface OpenStoreOptions {
  poolSize?: number;
}

/**
 * Opens the adapter named by the URL's scheme: `sqlite:PATH` (the embedded default) or
 * `postgres://...`. Does not migrate; call `store.migrate()`.
 */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore(sqlitePathFromUrl(databaseUrl));
  if (databaseUrl.startsWith('postgres://') || databaseUrl.startsWith('postgresql://')) {
    // Loaded lazily so that the embedded default never pays for the PostgreSQL driver.
    const { PostgresStore } = await import('./postgres/index.js');
    return new PostgresStore(databaseUrl, { poolSize: options.poolSize ?? 10 });
  }
  throw new Error('DATABASE_URL: unsupported scheme');
}
