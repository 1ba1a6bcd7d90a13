import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, postgresAdminUrl } from '../support/postgres.js';
import { describeStoreConformance } from './conformance.js';

const TABLES = ['users', 'sessions', 'refresh_tokens', 'one_time_tokens', 'security_events'];

// Each case gets its own database on the run's throwaway cluster; a pool of 10 makes the
// concurrent cases run on several connections at once.
describeStoreConformance('postgres', async () => new PostgresStore(await createTestDatabase('latchkey_store'), { poolSize: 10 }), {
  async countRows(store: Store) {
    const pool = (store as PostgresStore).pool;
    const counts: Record<string, number> = {};
    for (const t of TABLES) counts[t] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n;
    return counts;
  },
});

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

describe('PostgreSQL round trips', () => {
  it('a live refresh token rotates in one statement, a spent one through the locking transaction; concurrent session lookups share statements', async () => {
    const store = new PostgresStore(await createTestDatabase('latchkey_rt'), { poolSize: 2 });
    const statements: string[] = [];
    const original = pg.Client.prototype.query;
    try {
      await store.migrate();
      const now = Date.UTC(2026, 0, 1);
      const user = await store.createUser({
        id: 'u1', email: 'rt@example.com', name: null, passwordHash: 'x', roles: [], emailVerified: false, createdAt: now,
      });
      await store.createSession({
        id: 's1', userId: user!.id, createdAt: now, expiresAt: now + 86_400_000, idleExpiresAt: now + 3_600_000,
        userAgent: null, ip: null, refreshTokenHash: 'old',
      });
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const first = args[0] as string | { text: string };
        statements.push((typeof first === 'string' ? first : first.text).trim().split(/\s+/)[0]!.toUpperCase());
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      const rotate = (oldTokenHash: string, newTokenHash: string, at: number) =>
        store.rotateRefreshToken({ oldTokenHash, newTokenHash, now: at, graceMs: 10_000, idleTimeoutMs: 3_600_000 });
      expect((await rotate('old', 'new1', now + 1)).kind).toBe('rotated');
      expect(statements).toEqual(['WITH']);
      statements.length = 0;
      // Spent inside the grace window: the one statement finds nothing, the transaction decides.
      expect((await rotate('old', 'new2', now + 2)).kind).toBe('grace');
      expect(statements[0]).toBe('WITH');
      expect(statements.slice(1, 2)).toEqual(['BEGIN']);
      expect(statements.at(-1)).toBe('COMMIT');
      // Session lookups made together: the first goes at once, the rest wait for it and go in one.
      statements.length = 0;
      const found = await Promise.all(Array.from({ length: 30 }, (_, i) => store.getSessionWithUser(i % 3 === 2 ? 'nope' : 's1')));
      expect(statements).toEqual(['SELECT', 'SELECT']);
      expect(found.filter((f) => f?.session.id === 's1' && f.user.id === 'u1')).toHaveLength(20);
      expect(found.filter((f) => f === null)).toHaveLength(10);
    } finally {
      pg.Client.prototype.query = original;
      await store.close();
    }
  });
});
