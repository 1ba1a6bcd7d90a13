/**
 * Migration 3 (the last sign-in) on a database that was at version 2 with users in it, on both
 * adapters: existing users get the start of their newest stored session, users without a
 * session stay null, and the new column is written by the next sign-in.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/schema.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/helpers.js';
import { createTestDatabase } from '../support/postgres.js';

const T0 = Date.UTC(2026, 0, 1);
const { dir, cleanup } = tempDir('latchkey-migration-3-');
afterAll(cleanup);

/** Rows of a version-2 database: three users, two with sessions (one of them two, one revoked). */
const SEED = [
  `INSERT INTO users (id, email, name, password_hash, roles, email_verified, disabled, created_at, updated_at)
   VALUES ('a', 'a@example.com', NULL, 'h', ROLES, FALSE_, FALSE_, ${T0}, ${T0}),
          ('b', 'b@example.com', NULL, 'h', ROLES, FALSE_, FALSE_, ${T0}, ${T0}),
          ('c', 'c@example.com', NULL, 'h', ROLES, FALSE_, FALSE_, ${T0}, ${T0})`,
  `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, revoked_at)
   VALUES ('s1', 'a', ${T0 + 10}, ${T0 + 10}, ${T0 + 1e9}, ${T0 + 1e9}, NULL),
          ('s2', 'a', ${T0 + 30}, ${T0 + 40}, ${T0 + 1e9}, ${T0 + 1e9}, ${T0 + 50}),
          ('s3', 'b', ${T0 + 20}, ${T0 + 20}, ${T0 + 1e9}, ${T0 + 1e9}, NULL)`,
];

async function expectBackfilled(store: Store): Promise<void> {
  // 1 and 2 were applied already; 3 now (with any later migrations, which have their own tests).
  expect((await store.migrate()).filter((v) => v <= 3)).toEqual([3]);
  expect((await store.findUserById('a'))?.lastSignInAt).toBe(T0 + 30);
  expect((await store.findUserById('b'))?.lastSignInAt).toBe(T0 + 20);
  expect((await store.findUserById('c'))?.lastSignInAt).toBeNull();
  const page = await store.listUsers({ limit: 10, sort: 'last_sign_in_at', order: 'desc' });
  expect(page.users.map((u) => u.id)).toEqual(['a', 'b', 'c']);
  await store.createSession({
    id: 's4',
    userId: 'c',
    createdAt: T0 + 100,
    expiresAt: T0 + 1e9,
    idleExpiresAt: T0 + 1e9,
    userAgent: null,
    ip: null,
    refreshTokenHash: 'f'.repeat(64),
    authTime: T0 + 100,
    amr: ['pwd'],
  });
  expect((await store.findUserById('c'))?.lastSignInAt).toBe(T0 + 100);
}

describe('migration 3: last sign-in, from a version-2 database', () => {
  it('SQLite', async () => {
    const file = join(dir, 'v2.db');
    const raw = new Database(file);
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) raw.exec(m.sql);
    raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    raw.exec(`INSERT INTO schema_migrations VALUES (1, 'core', 0), (2, 'x', 0)`);
    for (const sql of SEED) raw.exec(sql.replaceAll('ROLES', "'[]'").replaceAll('FALSE_', '0'));
    raw.close();
    const store = new SqliteStore(file);
    try {
      await expectBackfilled(store);
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL', async () => {
    const url = await createTestDatabase('latchkey_migration3');
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    try {
      for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 2)) await raw.query(m.sql);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      await raw.query(`INSERT INTO schema_migrations VALUES (1, 'core', 0), (2, 'x', 0)`);
      for (const sql of SEED) await raw.query(sql.replaceAll('ROLES', "'{}'").replaceAll('FALSE_', 'false'));
    } finally {
      await raw.end();
    }
    const store = new PostgresStore(url, { poolSize: 2 });
    try {
      await expectBackfilled(store);
    } finally {
      await store.close();
    }
  });
});
