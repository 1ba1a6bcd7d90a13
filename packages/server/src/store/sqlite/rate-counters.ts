import type Database from 'better-sqlite3';
import type { RateCounterStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareCounterStatements(db: Database.Database) {
  return {
    hitCounter: db.prepare<{ key: string; now: number; reset: number }, { count: number; reset_at: number }>(
      `INSERT INTO rate_counters (key, count, reset_at) VALUES (@key, 1, @reset)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN rate_counters.reset_at <= @now THEN 1 ELSE rate_counters.count + 1 END,
         reset_at = CASE WHEN rate_counters.reset_at <= @now THEN @reset ELSE rate_counters.reset_at END
       RETURNING count, reset_at`,
    ),
    resetCounter: db.prepare('DELETE FROM rate_counters WHERE key = ?'),
    peekCounter: db.prepare<[string, number], { count: number; reset_at: number }>(
      'SELECT count, reset_at FROM rate_counters WHERE key = ? AND reset_at > ?',
    ),
  };
}

/**
 * The rate counters concern on SQLite. No `addRateCounts`: a statement here is a function call,
 * not a round trip, so the per-IP limits count hit by hit (features/ratelimit/counters.ts).
 */
export function sqliteRateCounters(c: SqliteConnection): RateCounterStore {
  const s = c.statements(prepareCounterStatements);

  return guardOutages<RateCounterStore>({
    hitRateCounter(key, now, windowMs) {
      const row = s().hitCounter.get({ key, now, reset: now + windowMs })!;
      return { count: row.count, resetAt: row.reset_at };
    },

    peekRateCounter(key, now) {
      const row = s().peekCounter.get(key, now);
      return row ? { count: row.count, resetAt: row.reset_at } : null;
    },

    resetRateCounter(key) {
      s().resetCounter.run(key);
    },
  });
}
