/** The one-time tokens concern (email verification, password reset). */
import { describe, expect, it } from 'vitest';
import { T0, DAY, hash, type StoreCaseContext } from './context.js';

export function oneTimeTokenCases(ctx: StoreCaseContext): void {
  const { user } = ctx;

  describe('one-time tokens', () => {
    it('consumeOneTimeToken spends a token once, for its purpose, before it expires', async () => {
      const u = await user();
      const t = hash();
      await ctx.store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'verify_email', createdAt: T0, expiresAt: T0 + 100 });
      expect(await ctx.store.consumeOneTimeToken(t, 'reset_password', T0 + 1)).toBeNull();
      expect(await ctx.store.consumeOneTimeToken(t, 'verify_email', T0 + 1)).toBe(u.id);
      expect(await ctx.store.consumeOneTimeToken(t, 'verify_email', T0 + 2)).toBeNull();
      expect(await ctx.store.consumeOneTimeToken(hash(), 'verify_email', T0)).toBeNull();

      const late = hash();
      await ctx.store.createOneTimeToken({ tokenHash: late, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + 100 });
      expect(await ctx.store.consumeOneTimeToken(late, 'reset_password', T0 + 100)).toBeNull();
      expect(await ctx.store.consumeOneTimeToken(late, 'reset_password', T0 + 99)).toBe(u.id);
    });

    it('findOneTimeToken looks a live token up without spending it', async () => {
      const u = await user();
      const t = hash();
      await ctx.store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + 100 });
      expect(await ctx.store.findOneTimeToken(hash(), 'reset_password', T0 + 1)).toBeNull();
      expect(await ctx.store.findOneTimeToken(t, 'verify_email', T0 + 1)).toBeNull();
      expect(await ctx.store.findOneTimeToken(t, 'reset_password', T0 + 100)).toBeNull();
      // Looked up as often as asked: it stays live, and is spent only by consume.
      for (let i = 0; i < 3; i++) expect(await ctx.store.findOneTimeToken(t, 'reset_password', T0 + 1)).toBe(u.id);
      expect(await ctx.store.consumeOneTimeToken(t, 'reset_password', T0 + 2)).toBe(u.id);
      expect(await ctx.store.findOneTimeToken(t, 'reset_password', T0 + 3)).toBeNull();
      const other = hash();
      await ctx.store.createOneTimeToken({ tokenHash: other, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
      await ctx.store.deleteOneTimeTokens(u.id, 'reset_password');
      expect(await ctx.store.findOneTimeToken(other, 'reset_password', T0 + 1)).toBeNull();
    });

    it('20 concurrent consumes after 20 concurrent lookups: every lookup sees it, exactly one consume wins', async () => {
      const u = await user();
      const t = hash();
      await ctx.store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
      const found = await Promise.all(Array.from({ length: 20 }, () => ctx.store.findOneTimeToken(t, 'reset_password', T0 + 1)));
      expect(found.every((r) => r === u.id)).toBe(true);
      const spent = await Promise.all(Array.from({ length: 20 }, () => ctx.store.consumeOneTimeToken(t, 'reset_password', T0 + 1)));
      expect(spent.filter((r) => r === u.id)).toHaveLength(1);
    });

    it('20 concurrent consumes of one token: exactly one receives the user', async () => {
      const u = await user();
      const t = hash();
      await ctx.store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'reset_password', createdAt: T0, expiresAt: T0 + DAY });
      const results = await Promise.all(Array.from({ length: 20 }, () => ctx.store.consumeOneTimeToken(t, 'reset_password', T0 + 1)));
      expect(results.filter((r) => r === u.id)).toHaveLength(1);
      expect(results.filter((r) => r === null)).toHaveLength(19);
    });

    it('deleteOneTimeTokens removes one purpose of one user only', async () => {
      const u = await user();
      const other = await user();
      const [v1, v2, r1, o1] = [hash(), hash(), hash(), hash()];
      const make = (tokenHash: string, userId: string, purpose: 'verify_email' | 'reset_password') =>
        ctx.store.createOneTimeToken({ tokenHash, userId, purpose, createdAt: T0, expiresAt: T0 + DAY });
      await make(v1, u.id, 'verify_email');
      await make(v2, u.id, 'verify_email');
      await make(r1, u.id, 'reset_password');
      await make(o1, other.id, 'verify_email');
      await ctx.store.deleteOneTimeTokens(u.id, 'verify_email');
      expect(await ctx.store.consumeOneTimeToken(v1, 'verify_email', T0 + 1)).toBeNull();
      expect(await ctx.store.consumeOneTimeToken(v2, 'verify_email', T0 + 1)).toBeNull();
      expect(await ctx.store.consumeOneTimeToken(r1, 'reset_password', T0 + 1)).toBe(u.id);
      expect(await ctx.store.consumeOneTimeToken(o1, 'verify_email', T0 + 1)).toBe(other.id);
    });
  });
}
