/** The signing keys concern. */
import { describe, expect, it } from 'vitest';
import { T0, key, type StoreCaseContext } from './context.js';

export function signingKeyCases(ctx: StoreCaseContext): void {
  describe('signing keys', () => {
    it('insert and list round-trip every field, oldest first', async () => {
      const b = key('kid-b', T0 + 2);
      const a = key('kid-a', T0 + 1, { alg: 'HS256', publicJwk: null, retiredAt: T0 + 5, expiresAt: T0 + 99 });
      await ctx.store.insertSigningKey(b);
      await ctx.store.insertSigningKey(a);
      expect(await ctx.store.listSigningKeys()).toEqual([a, b]);
    });

    it('rotateSigningKey retires the active key and makes the new one active', async () => {
      const old = key('old', T0, { retiredAt: T0 - 10, expiresAt: T0 + 50 });
      const current = key('current', T0 + 1);
      await ctx.store.insertSigningKey(old);
      await ctx.store.insertSigningKey(current);
      const next = key('next', T0 + 100);
      await ctx.store.rotateSigningKey(next, T0 + 100, T0 + 100 + 900_000);
      expect(await ctx.store.listSigningKeys()).toEqual([old, { ...current, retiredAt: T0 + 100, expiresAt: T0 + 100 + 900_000 }, next]);
    });

    it('10 concurrent rotateSigningKey leave exactly one active key', async () => {
      await ctx.store.insertSigningKey(key('first', T0));
      await Promise.all(Array.from({ length: 10 }, (_, i) => ctx.store.rotateSigningKey(key(`k${i}`, T0 + 10 + i), T0 + 10 + i, T0 + 1000)));
      const keys = await ctx.store.listSigningKeys();
      expect(keys).toHaveLength(11);
      expect(keys.filter((k) => k.retiredAt === null)).toHaveLength(1);
    });

    it('replaceSigningKeyPrivate replaces only the expected value; of 10 concurrent replacements exactly one wins', async () => {
      const k = key('sealed', T0);
      await ctx.store.insertSigningKey(k);
      await ctx.store.insertSigningKey(key('other', T0 + 1));
      expect(await ctx.store.replaceSigningKeyPrivate('sealed', 'not the stored value', 'lk1:x')).toBe(false);
      expect(await ctx.store.replaceSigningKeyPrivate('missing', k.privateJwk, 'lk1:x')).toBe(false);
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => ctx.store.replaceSigningKeyPrivate('sealed', k.privateJwk, `lk1:${i}`)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      const [sealed, other] = await ctx.store.listSigningKeys();
      expect(sealed).toEqual({ ...k, privateJwk: `lk1:${wins.indexOf(true)}` });
      expect(other).toEqual(key('other', T0 + 1));
    });

    it('deleteExpiredSigningKeys deletes keys whose expiry has passed, never an active one', async () => {
      await ctx.store.insertSigningKey(key('gone', T0, { retiredAt: T0, expiresAt: T0 + 10 }));
      await ctx.store.insertSigningKey(key('edge', T0 + 1, { retiredAt: T0, expiresAt: T0 + 20 }));
      await ctx.store.insertSigningKey(key('later', T0 + 2, { retiredAt: T0, expiresAt: T0 + 30 }));
      await ctx.store.insertSigningKey(key('active', T0 + 3));
      expect(await ctx.store.deleteExpiredSigningKeys(T0 + 20)).toBe(2);
      expect((await ctx.store.listSigningKeys()).map((k) => k.kid)).toEqual(['later', 'active']);
      expect(await ctx.store.deleteExpiredSigningKeys(T0 + 20)).toBe(0);
    });
  });
}
