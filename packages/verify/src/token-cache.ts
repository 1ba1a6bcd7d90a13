interface Entry<T> {
  readonly value: T;
  /** `exp` of the token, seconds since the epoch. */
  readonly exp: number;
  /** Set on every hit, cleared when eviction passes over the entry (second chance). */
  recent: boolean;
}

/**
 * A bounded cache of tokens that already passed full verification, keyed by the exact token
 * string: equal strings are equal bytes, so a hit carries the same signature that was checked.
 * `exp` is checked again on every hit, so a cached token expires exactly when it would have.
 *
 * Eviction is second-chance LRU (the CLOCK algorithm): a hit only sets a flag, so the hot path
 * neither allocates nor reorders the map; when full, the oldest entry without the flag goes.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached value if `token` is cached and `exp > nowSeconds - leewaySeconds`. */
  get(token: string, nowSeconds: number, leewaySeconds: number): T | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.exp <= nowSeconds - leewaySeconds) {
      this.entries.delete(token);
      return undefined;
    }
    entry.recent = true;
    return entry.value;
  }

  set(token: string, value: T, exp: number): void {
    if (this.maxEntries <= 0) return;
    if (!this.entries.has(token)) {
      while (this.entries.size >= this.maxEntries) this.evictOne();
    }
    this.entries.set(token, { value, exp, recent: false });
  }

  clear(): void {
    this.entries.clear();
  }

  private evictOne(): void {
    // Each pass clears flags as it goes, so this ends after at most one full round.
    for (const [token, entry] of this.entries) {
      this.entries.delete(token);
      if (!entry.recent) return;
      entry.recent = false;
      this.entries.set(token, entry);
    }
  }
}
