import type { Clock } from '../../clock.js';
import type { RateCountIncrement, RateCountTotal, RateCounter, Store } from '../../store/types.js';
import { DatabaseCounters, type CounterStore } from './counters.js';

/** How often an instance sends the hits it counted to the database (docs/abuse.md). */
export const RATE_COUNT_FLUSH_MS = 100;

/** What the batched counters need of the store: the exact operations and the batch upsert. */
export type BatchCounterStore = Pick<Store, 'hitRateCounter' | 'peekRateCounter' | 'resetRateCounter'> & {
  addRateCounts(increments: readonly RateCountIncrement[], now: number): Promise<RateCountTotal[]>;
};

/** True when the store has the batch upsert (PostgreSQL). */
export function canBatchRateCounts(store: Store): store is Store & BatchCounterStore {
  return typeof store.addRateCounts === 'function';
}

export interface BatchedCountersOptions {
  /** Time between two flushes while there are hits to send; default RATE_COUNT_FLUSH_MS. */
  flushIntervalMs?: number;
  /** Keys held at most (expired windows are dropped first, then the oldest tenth). */
  maxKeys?: number;
  /** Told once when statements start failing (the hits are kept and sent again). */
  onFlushError?: (err: Error) => void;
  /** Told once when a statement succeeds again after failures. */
  onFlushRecovered?: () => void;
}

/** One key's window as this instance knows it. */
interface KeyWindow {
  windowMs: number;
  /** End of the shared window, as the database last answered. */
  resetAt: number;
  /** The database's total at its last answer: every instance's hits sent before then. */
  shared: number;
  /** This instance's hits sent and not answered yet. */
  sending: number;
  /** This instance's hits not sent yet. */
  pending: number;
  /** Clock time of the statement that gave `shared`. */
  syncedAt: number;
  /** A round trip for this key alone in flight; hits arriving meanwhile wait for it. */
  syncing: Promise<void> | null;
}

function view(w: KeyWindow): RateCounter {
  return { count: w.shared + w.sending + w.pending, resetAt: w.resetAt };
}

/**
 * Per-IP rate-limit counters in the database, counted in batches: the PostgreSQL default when
 * several instances share the database and there is no Redis.
 *
 * Each instance counts hits in memory and every `flushIntervalMs` sends what it counted for every
 * key in one multi-row upsert, whose RETURNING gives the shared totals (every instance's hits sent
 * so far). A hit answers `shared total at the last answer + this instance's hits since`, with no
 * round trip. A key this instance does not know yet (a new client, or a restarted instance), a
 * window that has ended, or a total older than two flush intervals costs one exact round trip
 * first (hits arriving meanwhile wait for it rather than send their own).
 *
 * The price: an instance does not see the hits of the other instances that reached the database
 * after its last answer, nor those they have not sent yet, so the instances together may let
 * through, beyond the limit, what the OTHER instances count for that key in about three flush
 * intervals (its total is at most two intervals old, theirs is sent within one). One instance
 * alone is exact. docs/abuse.md states the bound.
 *
 * When the database fails: a key without a known open window cannot be counted and `hit`
 * rejects (the limiter then lets the request through and logs, as with every backend); a key
 * with one goes on counting locally against its last shared total, and its hits are sent by the
 * first flush that succeeds (within the window).
 *
 * The login backoff must count exactly: `exact` is the unbatched DatabaseCounters.
 */
export class BatchedDatabaseCounters implements CounterStore {
  readonly kind = 'database' as const;
  readonly exact: CounterStore;
  private readonly windows = new Map<string, KeyWindow>();
  /** Keys with hits not sent yet. */
  private readonly dirty = new Map<string, KeyWindow>();
  private readonly flushIntervalMs: number;
  private readonly staleMs: number;
  private readonly maxKeys: number;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private failing = false;
  private closed = false;

  constructor(
    private readonly store: BatchCounterStore,
    private readonly clock: Clock,
    private readonly options: BatchedCountersOptions = {},
  ) {
    this.exact = new DatabaseCounters(store, clock);
    this.flushIntervalMs = options.flushIntervalMs ?? RATE_COUNT_FLUSH_MS;
    this.staleMs = 2 * this.flushIntervalMs;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  hit(key: string, windowMs: number): Promise<RateCounter> {
    const w = this.windows.get(key);
    if (w?.syncing) return this.afterSync(key, w, w.syncing);
    const now = this.clock();
    if (!w || w.resetAt <= now || now - w.syncedAt > this.staleMs) return this.sync(key, w, windowMs, now);
    w.pending++;
    this.dirty.set(key, w);
    if (this.timer === null) this.schedule();
    return Promise.resolve(view(w));
  }

  /** The shared total in the database (this instance's unsent hits not included). */
  peek(key: string): Promise<RateCounter | null> {
    return this.store.peekRateCounter(key, this.clock());
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
    this.dirty.delete(key);
    await this.store.resetRateCounter(key);
  }

  /**
   * Sends every hit counted so far in one statement and takes the shared totals it returns. Runs
   * by itself every flush interval while there are hits to send; callable (tests, shutdown).
   * Never rejects: on failure the hits are kept for the next flush.
   */
  flush(): Promise<void> {
    // flushOnce handles database errors itself; anything else is reported, never left to reject
    // the chain (which would silently skip every later flush).
    this.chain = this.chain.then(() => this.flushOnce()).catch((err: unknown) => this.failed(err));
    return this.chain;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    this.windows.clear();
  }

  /** Number of keys held in memory (for tests of the bound). */
  get size(): number {
    return this.windows.size;
  }

  private async afterSync(key: string, w: KeyWindow, syncing: Promise<void>): Promise<RateCounter> {
    await syncing; // rejects when the round trip failed: the limiter lets the request through
    w.pending++;
    this.dirty.set(key, w);
    if (this.timer === null) this.schedule();
    return view(w);
  }

  /** One exact round trip for this key: its unsent hits and this one. */
  private sync(key: string, known: KeyWindow | undefined, windowMs: number, now: number): Promise<RateCounter> {
    let w = known;
    if (!w) {
      if (this.windows.size >= this.maxKeys) this.evict(now);
      w = { windowMs, resetAt: 0, shared: 0, sending: 0, pending: 0, syncedAt: 0, syncing: null };
      this.windows.set(key, w);
    } else if (w.resetAt <= now) {
      // The window ended: hits not sent by now belong to it and no longer count. A flush of the
      // old window still in flight is recognised by its older reset time when it answers.
      w.pending = 0;
      w.shared = 0;
      w.windowMs = windowMs;
    }
    const n = w.pending + 1;
    w.pending = 0;
    w.sending += n;
    this.dirty.delete(key);
    const target = w;
    const syncing = this.store.addRateCounts([{ key, count: n, windowMs: target.windowMs }], now).then(
      (totals) => {
        target.syncing = null;
        const total = totals[0];
        if (total) this.apply(target, n, total, now);
        else target.sending -= n;
        this.succeeded();
      },
      (err: unknown) => {
        target.syncing = null;
        target.sending -= n;
        this.failed(err);
        if (target.resetAt > now) {
          // A window with a known total (only too old to trust): count against it locally; the
          // flushes send these hits once the database answers. Not retried per request: the
          // total counts as fresh again, and the flushes retry every interval.
          target.pending += n;
          target.syncedAt = now;
          this.dirty.set(key, target);
          this.schedule();
          return;
        }
        // Nothing to count against (a new key, or its window has ended): the caller lets the
        // request through; forget the key so that the next hit asks the database again.
        if (this.windows.get(key) === target) this.windows.delete(key);
        throw err;
      },
    );
    w.syncing = syncing;
    return syncing.then(() => view(target));
  }

  /** Takes a database answer for `n` hits of this instance. */
  private apply(w: KeyWindow, n: number, total: RateCountTotal, sentAt: number): void {
    w.sending -= n;
    if (total.resetAt > w.resetAt) {
      // A new window (started by this answer or by another instance).
      w.resetAt = total.resetAt;
      w.shared = total.count;
    } else if (total.resetAt === w.resetAt) {
      // Totals only grow within a window: the larger one includes every statement before it.
      if (total.count > w.shared) w.shared = total.count;
    } else {
      return; // an answer about a window that has since ended
    }
    if (sentAt > w.syncedAt) w.syncedAt = sentAt;
  }

  private schedule(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  private async flushOnce(): Promise<void> {
    if (this.dirty.size === 0) return;
    const now = this.clock();
    const batch: Array<{ key: string; w: KeyWindow; n: number }> = [];
    for (const [key, w] of this.dirty) {
      if (w.resetAt <= now) {
        w.pending = 0; // the window ended before these were sent: they no longer count
        continue;
      }
      batch.push({ key, w, n: w.pending });
      w.sending += w.pending;
      w.pending = 0;
    }
    this.dirty.clear();
    if (batch.length > 0) {
      try {
        const totals = await this.store.addRateCounts(
          batch.map((b) => ({ key: b.key, count: b.n, windowMs: b.w.windowMs })),
          now,
        );
        const byKey = new Map(totals.map((t) => [t.key, t]));
        for (const b of batch) {
          const total = byKey.get(b.key);
          if (total) this.apply(b.w, b.n, total, now);
          else b.w.sending -= b.n;
        }
        this.succeeded();
      } catch (err) {
        // Kept and sent again at the next flush; meanwhile this instance counts them locally.
        for (const b of batch) {
          b.w.sending -= b.n;
          b.w.pending += b.n;
          if (!this.dirty.has(b.key)) this.dirty.set(b.key, b.w);
        }
        this.failed(err);
      }
    }
    if (this.dirty.size > 0) this.schedule();
  }

  /** Reports the first failure of a series (not every flush of an outage). */
  private failed(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.options.onFlushError?.(err instanceof Error ? err : new Error(String(err)));
  }

  private succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.onFlushRecovered?.();
  }

  /** Drops ended windows, then (still full) the oldest tenth; unsent hits are still sent. */
  private evict(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now && !w.syncing) this.windows.delete(k);
    if (this.windows.size < this.maxKeys) return;
    let drop = Math.ceil(this.maxKeys / 10);
    for (const [k, w] of this.windows) {
      if (drop-- <= 0) break;
      if (!w.syncing) this.windows.delete(k);
    }
  }
}
