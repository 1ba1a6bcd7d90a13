/** What every adapter has besides its concerns: serverTime, ping, close. */
import { describe, expect, it } from 'vitest';
import { DAY, type StoreCaseContext } from './context.js';

export function lifecycleCases(ctx: StoreCaseContext): void {
  describe('lifecycle', () => {
    it('serverTime, where the adapter has it, is the database clock in epoch ms', async () => {
      if (!ctx.store.serverTime) {
        // Optional in the contract: an embedded database shares the process clock.
        expect(ctx.store.kind).toBe('sqlite');
        return;
      }
      const t = await ctx.store.serverTime();
      expect(Number.isSafeInteger(t)).toBe(true);
      expect(Math.abs(t - Date.now())).toBeLessThan(DAY);
    });

    it('ping resolves on a reachable database', async () => {
      await expect(ctx.store.ping()).resolves.toBeUndefined();
    });

    it('close is idempotent and a closed store no longer answers', async () => {
      const other = await ctx.makeStore();
      await other.migrate();
      await other.close();
      await expect(other.close()).resolves.toBeUndefined();
      await expect(other.ping()).rejects.toThrow();
    });
  });
}
