/** The rate counters concern. */
import { describe, expect, it } from 'vitest';
import { T0, type StoreCaseContext } from './context.js';

export function rateCounterCases(ctx: StoreCaseContext): void {
  describe('rate counters', () => {
    it('hitRateCounter counts hits in a fixed window and starts a new one after it', async () => {
      expect(await ctx.store.peekRateCounter('login:ip', T0)).toBeNull();
      expect(await ctx.store.hitRateCounter('login:ip', T0, 60_000)).toEqual({ count: 1, resetAt: T0 + 60_000 });
      expect(await ctx.store.hitRateCounter('login:ip', T0 + 10, 60_000)).toEqual({ count: 2, resetAt: T0 + 60_000 });
      expect(await ctx.store.peekRateCounter('login:ip', T0 + 20)).toEqual({ count: 2, resetAt: T0 + 60_000 });
      expect(await ctx.store.hitRateCounter('other', T0 + 10, 1000)).toEqual({ count: 1, resetAt: T0 + 1010 });
      expect(await ctx.store.peekRateCounter('login:ip', T0 + 60_000)).toBeNull();
      expect(await ctx.store.hitRateCounter('login:ip', T0 + 60_000, 60_000)).toEqual({ count: 1, resetAt: T0 + 120_000 });
    });

    it('resetRateCounter starts the key over', async () => {
      await ctx.store.hitRateCounter('k', T0, 60_000);
      await ctx.store.hitRateCounter('k', T0, 60_000);
      await ctx.store.resetRateCounter('k');
      expect(await ctx.store.peekRateCounter('k', T0)).toBeNull();
      expect(await ctx.store.hitRateCounter('k', T0 + 1, 60_000)).toEqual({ count: 1, resetAt: T0 + 60_001 });
      await expect(ctx.store.resetRateCounter('never-seen')).resolves.toBeUndefined();
    });

    it('50 concurrent hits are each counted once', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, () => ctx.store.hitRateCounter('burst', T0 + 5, 60_000)));
      expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(new Set(results.map((r) => r.resetAt))).toEqual(new Set([T0 + 60_005]));
      expect(await ctx.store.peekRateCounter('burst', T0 + 6)).toEqual({ count: 50, resetAt: T0 + 60_005 });
    });
  });
}
