export interface CacheEntry<T> {
  /** The whole token: a hit must be the exact same string, not just the same tail. */
  readonly token: string;
  readonly value: T;
  /** `exp` of the token, seconds since the epoch. */
  readonly exp: number;
  /** Set on every hit, cleared when eviction passes over the entry (second chance). */
  recent: boolean;
  /**
   * For the verifier's own use: the revocation follower's version at which this token was last
   * found not revoked (-1: never checked).
   */
  checkedAt: number;
}

const KEY_LENGTH = 32;

function keyOf(token: string): string {
  return token.length > KEY_LENGTH ? token.slice(token.length - KEY_LENGTH) : token;
}

/**
 * A bounded cache of tokens that already passed full verification, keyed by the exact token
 * string: equal strings are equal bytes, so a hit carries the same signature that was checked.
 * `exp` is checked again on every hit, so a cached token expires exactly when it would have.
 *
 * The map key is the token's last 32 characters (part of its signature, effectively random),
 * not the whole token: a request's header is a fresh string whose hash V8 would compute over all
 * of its ~700 characters on every lookup, which costs more than the rest of the hit path together.
 * The entry keeps the whole token and a hit requires exact equality, so a crafted token with the
 * same tail is a plain miss and goes through full verification.
 *
 * Eviction is second-chance LRU (the CLOCK algorithm): a hit only sets a flag, so the hot path
 * neither allocates nor reorders the map; when full, the oldest entry without the flag goes.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached value if `token` is cached and `exp > nowSeconds - leewaySeconds`. */
  get(token: string, nowSeconds: number, leewaySeconds: number): T | undefined {
    return this.entry(token, nowSeconds, leewaySeconds)?.value;
  }

  /** Like `get`, but the entry itself (its `checkedAt` is the caller's to read and set). */
  entry(token: string, nowSeconds: number, leewaySeconds: number): CacheEntry<T> | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.exp <= nowSeconds - leewaySeconds) {
      this.entries.delete(key);
      return undefined;
    }
    entry.recent = true;
    return entry;
  }

  set(token: string, value: T, exp: number, checkedAt = -1): void {
    if (this.maxEntries <= 0) return;
    const key = keyOf(token);
    if (!this.entries.has(key)) {
      while (this.entries.size >= this.maxEntries) this.evictOne();
    }
    this.entries.set(key, { token, value, exp, recent: false, checkedAt });
  }

  clear(): void {
    this.entries.clear();
  }

  private evictOne(): void {
    // Each pass clears flags as it goes, so this ends after at most one full round.
    for (const [key, entry] of this.entries) {
      this.entries.delete(key);
      if (!entry.recent) return;
      entry.recent = false;
      this.entries.set(key, entry);
    }
  }
}
