/** The audit log concern: append, filtered newest-first keyset pages, retention purge. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditQuery, AuditRecord } from '../../../src/store/types.js';
import { T0, type StoreCaseContext } from './context.js';

export function entry(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: randomUUID(),
    at: T0,
    actorType: 'admin',
    actorId: 'admin-1',
    actorEmail: 'admin@example.com',
    action: 'admin.user.updated',
    targetType: 'user',
    targetId: 'user-1',
    changes: null,
    ip: '10.0.0.1',
    userAgent: 'ua',
    requestId: 'req-1',
    ...overrides,
  };
}

const ANY: AuditQuery = { actor: null, action: null, target: null, since: null, until: null, before: null, limit: 100 };

export function auditCases(ctx: StoreCaseContext): void {
  describe('audit log', () => {
    it('appendAudit and listAudit: newest first, every field round-trips, changes as JSON', async () => {
      const changes = { roles: { from: ['a'], to: ['a', 'b'] }, password: { changed: true } };
      const a = entry({ at: T0 + 1, changes });
      const b = entry({ at: T0 + 2, actorType: 'cli', actorId: null, actorEmail: null, targetType: null, targetId: null, ip: null, userAgent: null, requestId: null });
      await ctx.store.appendAudit(a);
      await ctx.store.appendAudit(b);
      const rows = await ctx.store.listAudit(ANY);
      expect(rows).toEqual([b, a]);
    });

    it('filters: actor by id or email, action exact or by prefix (wildcards literal), target, since and until', async () => {
      const ids = {
        own: entry({ at: T0 + 1, actorType: 'user', actorId: 'u-7', actorEmail: 'ada@example.com', action: 'user.password.changed', targetId: 'u-7' }),
        admin: entry({ at: T0 + 2, action: 'admin.user.deleted', targetId: 'u-8' }),
        underscore: entry({ at: T0 + 3, action: 'admin.user_x' }),
        other: entry({ at: T0 + 4, action: 'adminXuser.updated' }),
      };
      for (const e of Object.values(ids)) await ctx.store.appendAudit(e);
      const list = async (q: Partial<AuditQuery>) => (await ctx.store.listAudit({ ...ANY, ...q })).map((r) => r.id);
      expect(await list({ actor: 'u-7' })).toEqual([ids.own.id]);
      expect(await list({ actor: 'ADA@example.com' })).toEqual([ids.own.id]);
      expect(await list({ action: 'admin.user.deleted' })).toEqual([ids.admin.id]);
      expect(await list({ action: 'admin.user.*' })).toEqual([ids.admin.id]);
      expect(await list({ action: 'admin.user_*' })).toEqual([ids.underscore.id]);
      expect(await list({ action: 'admin.*' })).toEqual([ids.underscore.id, ids.admin.id]);
      expect(await list({ target: 'u-8' })).toEqual([ids.admin.id]);
      expect(await list({ since: T0 + 2, until: T0 + 4 })).toEqual([ids.underscore.id, ids.admin.id]);
      expect(await list({ actor: 'nobody' })).toEqual([]);
    });

    it('keyset pages walk every entry once, newest first, also through entries of the same millisecond', async () => {
      const all: AuditRecord[] = [];
      for (let i = 0; i < 7; i++) all.push(entry({ at: T0 + Math.floor(i / 3) }));
      for (const e of all) await ctx.store.appendAudit(e);
      const expected = [...all].sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0)).map((r) => r.id);
      const seen: string[] = [];
      let before: AuditQuery['before'] = null;
      for (;;) {
        const page = await ctx.store.listAudit({ ...ANY, limit: 2, before });
        seen.push(...page.map((r) => r.id));
        if (page.length < 2) break;
        const last = page[page.length - 1]!;
        before = { at: last.at, id: last.id };
      }
      expect(seen).toEqual(expected);
    });

    it('entries outlive their actor and target (no foreign key): deleting the user keeps them', async () => {
      const u = await ctx.user();
      await ctx.store.appendAudit(entry({ actorType: 'user', actorId: u.id, actorEmail: u.email, targetId: u.id }));
      expect(await ctx.store.deleteUser(u.id, T0)).toBeTruthy();
      expect(await ctx.store.listAudit({ ...ANY, actor: u.id })).toHaveLength(1);
    });

    it('the table is append-only: an UPDATE is refused and the entry stays as written', async () => {
      const e = entry();
      await ctx.store.appendAudit(e);
      await expect(ctx.tamperAudit()).rejects.toThrow(/append-only/);
      expect(await ctx.store.listAudit(ANY)).toEqual([e]);
    });

    it('purgeAudit deletes entries older than the cutoff in bounded batches, and nothing newer', async () => {
      for (let i = 0; i < 15; i++) await ctx.store.appendAudit(entry({ at: T0 + i }));
      for (let i = 0; i < 5; i++) await ctx.store.appendAudit(entry({ at: T0 + 100 + i }));
      expect(await ctx.store.purgeAudit(T0 + 100, 10)).toBe(10);
      expect(await ctx.store.purgeAudit(T0 + 100, 10)).toBe(5);
      expect(await ctx.store.purgeAudit(T0 + 100, 10)).toBe(0);
      const left = await ctx.store.listAudit(ANY);
      expect(left.map((r) => r.at)).toEqual([T0 + 104, T0 + 103, T0 + 102, T0 + 101, T0 + 100]);
    });
  });
}
