import type { RateCounterStore } from '../types.js';
import type { PgConnection } from './connection.js';

/** The rate counters concern on PostgreSQL: each hit is one upsert; addRateCounts (which this adapter has) sends many in one. */
export function postgresRateCounters(db: PgConnection): Required<RateCounterStore> {
  return {
    async hitRateCounter(key, now, windowMs) {
      const rows = await db.query<{ count: number; reset_at: number }>(
        `INSERT INTO rate_counters (key, count, reset_at) VALUES ($1, 1, $3)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN rate_counters.reset_at <= $2 THEN 1 ELSE rate_counters.count + 1 END,
           reset_at = CASE WHEN rate_counters.reset_at <= $2 THEN $3 ELSE rate_counters.reset_at END
         RETURNING count, reset_at`,
        [key, now, now + windowMs],
      );
      const row = rows[0]!;
      return { count: row.count, resetAt: row.reset_at };
    },

    async addRateCounts(increments, now) {
      if (increments.length === 0) return [];
      // Rows are upserted in key order (ORDER BY k), so two instances flushing overlapping keys
      // lock them in the same order and cannot deadlock each other.
      const rows = await db.query<{ key: string; count: number; reset_at: number }>(
        `INSERT INTO rate_counters AS c (key, count, reset_at)
         SELECT k, n, $4::bigint + w FROM unnest($1::text[], $2::int[], $3::bigint[]) AS b(k, n, w) ORDER BY k
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN c.reset_at <= $4 THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
           reset_at = CASE WHEN c.reset_at <= $4 THEN EXCLUDED.reset_at ELSE c.reset_at END
         RETURNING key, count, reset_at`,
        [increments.map((i) => i.key), increments.map((i) => i.count), increments.map((i) => i.windowMs), now],
      );
      return rows.map((r) => ({ key: r.key, count: r.count, resetAt: r.reset_at }));
    },

    async peekRateCounter(key, now) {
      const rows = await db.query<{ count: number; reset_at: number }>(
        'SELECT count, reset_at FROM rate_counters WHERE key = $1 AND reset_at > $2',
        [key, now],
      );
      return rows[0] ? { count: rows[0].count, resetAt: rows[0].reset_at } : null;
    },

    async resetRateCounter(key) {
      await db.execute('DELETE FROM rate_counters WHERE key = $1', [key]);
    },
  };
}
