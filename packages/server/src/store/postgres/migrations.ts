import type { MigrationStore } from '../types.js';
import type { PgConnection } from './connection.js';
import { POSTGRES_MIGRATIONS } from './schema.js';

/** The migrations concern on PostgreSQL: an advisory lock, so instances starting at once do not collide. */
export function postgresMigrations(db: PgConnection): MigrationStore {
  return {
    async migrate() {
      return db.tx(async (c) => {
        // Instances starting together queue here; the first applies, the others find nothing to do.
        await c.query("SELECT pg_advisory_xact_lock(hashtext('latchkey.migrations'))");
        await c.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
        );
        const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
        const applied: number[] = [];
        for (const m of POSTGRES_MIGRATIONS) {
          if (done.has(m.version)) continue;
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          applied.push(m.version);
        }
        return applied;
      });
    },

    async pendingMigrations() {
      const exists = await db.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
      const done = new Set(
        exists[0]?.t ? (await db.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version) : [],
      );
      return POSTGRES_MIGRATIONS.map((m) => m.version).filter((v) => !done.has(v));
    },
  };
}
