import type { MigrationStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';
import { SQLITE_MIGRATIONS } from './schema.js';

/**
 * Applies the pending versions of schema.ts in one BEGIN IMMEDIATE transaction (a second
 * process starting on the same file waits, then finds nothing to do); returns those applied.
 */
export function migrateSqlite(c: SqliteConnection): number[] {
  const { db } = c;
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied: number[] = [];
  const run = db.transaction(() => {
    const done = new Set(
      db
        .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
        .all()
        .map((r) => r.version),
    );
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }
  });
  run.immediate();
  c.forgetStatements();
  return applied;
}

/** The migrations concern on SQLite. */
export function sqliteMigrations(c: SqliteConnection): MigrationStore {
  return guardOutages<MigrationStore>({
    migrate() {
      return migrateSqlite(c);
    },

    pendingMigrations() {
      const table = c.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
      const done = new Set(
        table ? c.db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version) : [],
      );
      return SQLITE_MIGRATIONS.map((m) => m.version).filter((v) => !done.has(v));
    },
  });
}
