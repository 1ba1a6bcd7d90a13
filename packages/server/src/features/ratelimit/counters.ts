import type { Clock } from '../../clock.js';
import type { RateCounter, Store } from '../../store/types.js';

/**
 * Fixed-window hit counters shared by the rate limits and the login backoff. Backends: memory
 * (one process; under `serve --workers N`, the primary's memory shared by the workers), Redis
 * (every instance, `REDIS_URL`), and the database (every instance, when there is no Redis). `hit` is atomic in each; on PostgreSQL the per-IP limits count in
 * batches (BatchedDatabaseCounters), whose `exact` is what the login backoff uses.
 */
export interface CounterStore {
  /** `primary`: the memory of the `serve --workers` primary, shared by its workers (primary-counters.ts). */
  readonly kind: 'memory' | 'redis' | 'database' | 'primary';
  /**
   * Set when `hit` may answer from a local view of a shared count (batched counters): the same
   * counters without that, for counts that must be exact (the login backoff). Unset: `hit` is exact.
   */
  readonly exact?: CounterStore;
  /** Adds one hit in a window of `windowMs` starting at the first hit; returns the new count. */
  hit(key: string, windowMs: number): Promise<RateCounter>;
  /**
   * `hit` without a promise, for backends that answer in-process (memory): the rate-limit hook
   * runs on every request. The result is only valid until the next call (it may be live state).
   */
  hitNow?(key: string, windowMs: number): Readonly<RateCounter>;
  /** The current window without counting a hit; null when none is open. */
  peek(key: string): Promise<RateCounter | null>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

/** In-process counters, bounded in size: expired windows are swept, the oldest dropped past `maxKeys`. */
export class MemoryCounters implements CounterStore {
  readonly kind = 'memory' as const;
  private readonly windows = new Map<string, RateCounter>();

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {}

  async hit(key: string, windowMs: number): Promise<RateCounter> {
    return { ...this.hitNow(key, windowMs) };
  }

  hitNow(key: string, windowMs: number): Readonly<RateCounter> {
    const now = this.clock();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= this.maxKeys) this.evict(now);
      w = { count: 0, resetAt: now + windowMs };
      // Re-insert so Map order stays roughly by window start (oldest first) for eviction.
      this.windows.delete(key);
      this.windows.set(key, w);
    }
    w.count++;
    return w;
  }

  async peek(key: string): Promise<RateCounter | null> {
    return this.peekNow(key);
  }

  /** `peek` without a promise (the primary of `serve --workers` answers its workers with it). */
  peekNow(key: string): RateCounter | null {
    const w = this.windows.get(key);
    return w && w.resetAt > this.clock() ? { ...w } : null;
  }

  async reset(key: string): Promise<void> {
    this.resetNow(key);
  }

  resetNow(key: string): void {
    this.windows.delete(key);
  }

  async close(): Promise<void> {
    this.windows.clear();
  }

  private evict(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full: drop the oldest tenth rather than grow without bound.
    if (this.windows.size >= this.maxKeys) {
      let drop = Math.ceil(this.maxKeys / 10);
      for (const k of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(k);
      }
    }
  }
}

/** Counters in the database (the store's rate_counters table): shared without Redis. */
export class DatabaseCounters implements CounterStore {
  readonly kind = 'database' as const;

  constructor(
    private readonly store: Pick<Store, 'hitRateCounter' | 'peekRateCounter' | 'resetRateCounter'>,
    private readonly clock: Clock,
  ) {}

  hit(key: string, windowMs: number): Promise<RateCounter> {
    return this.store.hitRateCounter(key, this.clock(), windowMs);
  }

  peek(key: string): Promise<RateCounter | null> {
    return this.store.peekRateCounter(key, this.clock());
  }

  reset(key: string): Promise<void> {
    return this.store.resetRateCounter(key);
  }

  async close(): Promise<void> {}
}

// INCR then set the expiry on the first hit, atomically; returns [count, ms left].
const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}`;

interface RedisLike {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  get(key: string): Promise<string | null>;
  pttl(key: string): Promise<number>;
  del(key: string): Promise<number>;
  quit(): Promise<unknown>;
}

/** Counters in Redis, shared by every instance. Keys expire by themselves. */
export class RedisCounters implements CounterStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: RedisLike,
    private readonly clock: Clock,
    private readonly prefix = 'latchkey:',
  ) {}

  static async connect(url: string, clock: Clock): Promise<RedisCounters> {
    const { Redis } = await import('ioredis');
    const client = new Redis(url, {
      // Fail fast while Redis is away instead of queueing commands without bound.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      lazyConnect: true,
    });
    client.on('error', () => undefined);
    await client.connect();
    return new RedisCounters(client as unknown as RedisLike, clock);
  }

  async hit(key: string, windowMs: number): Promise<RateCounter> {
    const [count, ttl] = (await this.redis.eval(HIT_SCRIPT, 1, this.prefix + key, windowMs)) as [number, number];
    return { count, resetAt: this.clock() + ttl };
  }

  async peek(key: string): Promise<RateCounter | null> {
    const [value, ttl] = await Promise.all([this.redis.get(this.prefix + key), this.redis.pttl(this.prefix + key)]);
    if (value === null || ttl <= 0) return null;
    return { count: Number(value), resetAt: this.clock() + ttl };
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
