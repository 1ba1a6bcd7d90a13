/** The security events concern. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { T0, type StoreCaseContext } from './context.js';

export function securityEventCases(ctx: StoreCaseContext): void {
  const { user } = ctx;

  describe('security events', () => {
    it('recordEvent and listEvents: one user, newest first, limited, details round-trip', async () => {
      const u = await user();
      const other = await user();
      const base = { ip: '10.0.0.1', userAgent: 'ua', detail: null };
      await ctx.store.recordEvent({ ...base, id: randomUUID(), userId: u.id, type: 'register', createdAt: T0 });
      await ctx.store.recordEvent({ ...base, id: randomUUID(), userId: u.id, type: 'login_succeeded', createdAt: T0 + 2, detail: { session_id: 's1', nested: { n: [1, 2] } } });
      await ctx.store.recordEvent({ ...base, id: randomUUID(), userId: u.id, type: 'logout', createdAt: T0 + 1, ip: null, userAgent: null });
      await ctx.store.recordEvent({ ...base, id: randomUUID(), userId: other.id, type: 'register', createdAt: T0 + 3 });
      await ctx.store.recordEvent({ ...base, id: randomUUID(), userId: null, type: 'login_failed', createdAt: T0 + 4 });
      const events = await ctx.store.listEvents(u.id, 10);
      expect(events.map((e) => e.type)).toEqual(['login_succeeded', 'logout', 'register']);
      expect(events[0]).toMatchObject({ userId: u.id, ip: '10.0.0.1', userAgent: 'ua', createdAt: T0 + 2, detail: { session_id: 's1', nested: { n: [1, 2] } } });
      expect(events[1]).toMatchObject({ ip: null, userAgent: null, detail: null });
      expect((await ctx.store.listEvents(u.id, 2)).map((e) => e.type)).toEqual(['login_succeeded', 'logout']);
    });

    it('purgeEvents deletes events older than the cutoff in bounded batches', async () => {
      const u = await user();
      for (let i = 0; i < 15; i++) await ctx.store.recordEvent({ id: randomUUID(), userId: u.id, type: 'old', ip: null, userAgent: null, detail: null, createdAt: T0 + i });
      for (let i = 0; i < 5; i++) await ctx.store.recordEvent({ id: randomUUID(), userId: null, type: 'new', ip: null, userAgent: null, detail: null, createdAt: T0 + 100 + i });
      expect(await ctx.store.purgeEvents(T0 + 100, 10)).toBe(10);
      expect(await ctx.store.purgeEvents(T0 + 100, 10)).toBe(5);
      expect(await ctx.store.purgeEvents(T0 + 100, 10)).toBe(0);
      expect(await ctx.store.listEvents(u.id, 100)).toEqual([]);
      expect(await ctx.store.purgeEvents(T0 + 105, 10)).toBe(5);
    });
  });
}
