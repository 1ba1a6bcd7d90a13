import { describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../../src/store/postgres/schema.js';
import { PostgresStore } from '../../../src/store/postgres/index.js';
import { SQLITE_MIGRATIONS } from '../../../src/store/sqlite/schema.js';
import { createTestDatabase } from '../../support/postgres.js';

describe('PostgreSQL migrations', () => {
  it('have the same versions and names as the SQLite ones', () => {
    const strip = (ms: readonly { version: number; name: string }[]) => ms.map(({ version, name }) => ({ version, name }));
    expect(strip(POSTGRES_MIGRATIONS)).toEqual(strip(SQLITE_MIGRATIONS));
  });

  it('five instances migrating one database at once: one applies, the others find nothing to do', async () => {
    const url = await createTestDatabase('latchkey_migrate');
    const stores = Array.from({ length: 5 }, () => new PostgresStore(url, { poolSize: 2 }));
    try {
      const applied = await Promise.all(stores.map((s) => s.migrate()));
      expect(applied.filter((a) => a.length > 0)).toEqual([POSTGRES_MIGRATIONS.map((m) => m.version)]);
      const { rows } = await stores[0]!.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
