/** The migrations concern: migrate and pendingMigrations. */
import { describe, expect, it } from 'vitest';
import { type StoreCaseContext } from './context.js';

export function migrationCases(ctx: StoreCaseContext): void {
  describe('migrations', () => {
    it('migrate applies every version once, ascending from 1, and is then a no-op', async () => {
      expect(ctx.applied.length).toBeGreaterThan(0);
      expect(ctx.applied[0]).toBe(1);
      expect([...ctx.applied].sort((a, b) => a - b)).toEqual(ctx.applied);
      expect(await ctx.store.migrate()).toEqual([]);
    });

    it('pendingMigrations lists every version before migrate and none after', async () => {
      const fresh = await ctx.makeStore();
      try {
        const pending = await fresh.pendingMigrations();
        expect(pending.length).toBeGreaterThan(0);
        expect(await fresh.migrate()).toEqual(pending);
        expect(await fresh.pendingMigrations()).toEqual([]);
      } finally {
        await fresh.close();
      }
      expect(await ctx.store.pendingMigrations()).toEqual([]);
    });
  });
}
