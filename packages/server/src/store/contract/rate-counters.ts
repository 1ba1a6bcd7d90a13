/**
 * The rate counters concern of the storage contract: shared rate-limit counters, used when
 * several processes share the database and no Redis.
 */

export interface RateCounter {
  count: number;
  /** When the current window ends (epoch ms). */
  resetAt: number;
}

/** Hits to add to one rate-limit key (see RateCounterStore.addRateCounts). */
export interface RateCountIncrement {
  key: string;
  count: number;
  windowMs: number;
}

/** One key's total after RateCounterStore.addRateCounts. */
export interface RateCountTotal extends RateCounter {
  key: string;
}

export interface RateCounterStore {
  /** Adds one hit to `key` in a fixed window of `windowMs`; atomic under concurrency. */
  hitRateCounter(key: string, now: number, windowMs: number): Promise<RateCounter>;
  /** The current window of `key` without counting a hit; null when none is open at `now`. */
  peekRateCounter(key: string, now: number): Promise<RateCounter | null>;
  resetRateCounter(key: string): Promise<void>;
  /**
   * Adds `count` hits to each key (keys distinct) in one atomic statement; a key whose window
   * has ended at `now` starts a new one of its `windowMs`. Returns every key's new total.
   * Optional: the adapter where each statement is a network round trip (PostgreSQL) has it,
   * and the per-IP limits then count in batches (features/ratelimit/counters.ts).
   */
  addRateCounts?(increments: readonly RateCountIncrement[], now: number): Promise<RateCountTotal[]>;
}
