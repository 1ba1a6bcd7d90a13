import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.js';
import { PostgresStore } from '../../../src/store/postgres/index.js';
import { createTestDatabase, postgresAdminUrl } from '../../support/postgres.js';

describe('PostgreSQL pool', () => {
  it('DATABASE_POOL_SIZE caps the connections one process opens', async () => {
    const url = await createTestDatabase('latchkey_pool');
    const store = await openStore(url, { poolSize: 3 });
    const admin = new pg.Client({ connectionString: postgresAdminUrl() });
    await admin.connect();
    try {
      await store.migrate();
      expect(store).toBeInstanceOf(PostgresStore);
      const hits = await Promise.all(Array.from({ length: 30 }, () => store.hitRateCounter('pool', Date.UTC(2026, 0, 1), 60_000)));
      expect(Math.max(...hits.map((h) => h.count))).toBe(30);
      expect((store as PostgresStore).pool.totalCount).toBe(3);
      const { rows } = await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'latchkey'",
        [new URL(url).pathname.slice(1)],
      );
      expect(rows[0]!.n).toBe(3);
    } finally {
      await admin.end();
      await store.close();
    }
  });
});
