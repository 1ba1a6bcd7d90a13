/** The email sign-in concern: one challenge per address, spent once by its link or its code, with a bounded count of code attempts. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewEmailSignInChallenge } from '../../../src/store/types.js';
import { T0, SECOND, hash, type StoreCaseContext } from './context.js';

const MAX = 5;

function newChallenge(overrides: Partial<NewEmailSignInChallenge> = {}): NewEmailSignInChallenge {
  return {
    id: randomUUID(),
    email: `s-${randomUUID().slice(0, 8)}@example.com`,
    tokenHash: hash(),
    codeHash: hash(),
    createdAt: T0,
    expiresAt: T0 + 900 * SECOND,
    ...overrides,
  };
}

export function emailSignInCases(ctx: StoreCaseContext): void {
  describe('email sign-in challenges', () => {
    it('consumeEmailSignInToken spends a challenge once, before it expires, and returns it whole', async () => {
      const c = newChallenge();
      await ctx.store.putEmailSignInChallenge(c);
      expect(await ctx.store.consumeEmailSignInToken(hash(), T0 + 1, MAX)).toBeNull();
      expect(await ctx.store.consumeEmailSignInToken(c.tokenHash, T0 + 1, MAX)).toEqual({ ...c, attempts: 0 });
      expect(await ctx.store.consumeEmailSignInToken(c.tokenHash, T0 + 2, MAX)).toBeNull();
      // Spent by its link, its code is gone too.
      expect(await ctx.store.countEmailSignInAttempt(c.email, T0 + 3, MAX)).toBeNull();

      const late = newChallenge({ expiresAt: T0 + 100 });
      await ctx.store.putEmailSignInChallenge(late);
      expect(await ctx.store.consumeEmailSignInToken(late.tokenHash, T0 + 100, MAX)).toBeNull();
      expect(await ctx.store.countEmailSignInAttempt(late.email, T0 + 100, MAX)).toBeNull();
      expect(await ctx.store.consumeEmailSignInChallenge(late.id, T0 + 100)).toBe(false);
      expect(await ctx.store.consumeEmailSignInToken(late.tokenHash, T0 + 99, MAX)).not.toBeNull();
    });

    it('countEmailSignInAttempt counts up to the limit and no further; the dead challenge\'s link and code are refused', async () => {
      const c = newChallenge();
      await ctx.store.putEmailSignInChallenge(c);
      expect(await ctx.store.countEmailSignInAttempt('nobody@example.com', T0 + 1, MAX)).toBeNull();
      for (let i = 1; i <= MAX; i++) {
        expect(await ctx.store.countEmailSignInAttempt(c.email, T0 + 1, MAX)).toEqual({ ...c, attempts: i });
      }
      expect(await ctx.store.countEmailSignInAttempt(c.email, T0 + 1, MAX)).toBeNull();
      expect(await ctx.store.consumeEmailSignInToken(c.tokenHash, T0 + 1, MAX)).toBeNull();
    });

    it('consumeEmailSignInChallenge spends by id once; the link is then refused', async () => {
      const c = newChallenge();
      await ctx.store.putEmailSignInChallenge(c);
      expect(await ctx.store.consumeEmailSignInChallenge(randomUUID(), T0 + 1)).toBe(false);
      expect(await ctx.store.consumeEmailSignInChallenge(c.id, T0 + 1)).toBe(true);
      expect(await ctx.store.consumeEmailSignInChallenge(c.id, T0 + 1)).toBe(false);
      expect(await ctx.store.consumeEmailSignInToken(c.tokenHash, T0 + 1, MAX)).toBeNull();
    });

    it('a new challenge of an address replaces the old one: the old link, id and attempts are gone', async () => {
      const old = newChallenge();
      await ctx.store.putEmailSignInChallenge(old);
      await ctx.store.countEmailSignInAttempt(old.email, T0 + 1, MAX);
      await ctx.store.countEmailSignInAttempt(old.email, T0 + 1, MAX);
      const next = newChallenge({ email: old.email, createdAt: T0 + 10, expiresAt: T0 + 1000 * SECOND });
      await ctx.store.putEmailSignInChallenge(next);
      expect(await ctx.store.consumeEmailSignInToken(old.tokenHash, T0 + 11, MAX)).toBeNull();
      expect(await ctx.store.consumeEmailSignInChallenge(old.id, T0 + 11)).toBe(false);
      expect(await ctx.store.countEmailSignInAttempt(old.email, T0 + 11, MAX)).toEqual({ ...next, attempts: 1 });
      expect(await ctx.store.consumeEmailSignInToken(next.tokenHash, T0 + 11, MAX)).toEqual({ ...next, attempts: 1 });
    });

    it('challenges of other addresses are independent; deleteEmailSignInChallenge removes one address\'s', async () => {
      const a = newChallenge();
      const b = newChallenge();
      await ctx.store.putEmailSignInChallenge(a);
      await ctx.store.putEmailSignInChallenge(b);
      await ctx.store.deleteEmailSignInChallenge(a.email);
      await ctx.store.deleteEmailSignInChallenge('nobody@example.com');
      expect(await ctx.store.consumeEmailSignInToken(a.tokenHash, T0 + 1, MAX)).toBeNull();
      expect(await ctx.store.consumeEmailSignInToken(b.tokenHash, T0 + 1, MAX)).not.toBeNull();
    });

    it('20 concurrent link uses: exactly one receives the challenge', async () => {
      const c = newChallenge();
      await ctx.store.putEmailSignInChallenge(c);
      const results = await Promise.all(Array.from({ length: 20 }, () => ctx.store.consumeEmailSignInToken(c.tokenHash, T0 + 1, MAX)));
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });

    it('10 concurrent spends by id and 10 link uses of one challenge: exactly one wins', async () => {
      const c = newChallenge();
      await ctx.store.putEmailSignInChallenge(c);
      const results = await Promise.all([
        ...Array.from({ length: 10 }, () => ctx.store.consumeEmailSignInChallenge(c.id, T0 + 1)),
        ...Array.from({ length: 10 }, async () => (await ctx.store.consumeEmailSignInToken(c.tokenHash, T0 + 1, MAX)) !== null),
      ]);
      expect(results.filter((r) => r)).toHaveLength(1);
    });

    it('30 concurrent attempts: exactly the limit are counted, numbered 1 to 5', async () => {
      const c = newChallenge();
      await ctx.store.putEmailSignInChallenge(c);
      const results = await Promise.all(Array.from({ length: 30 }, () => ctx.store.countEmailSignInAttempt(c.email, T0 + 1, MAX)));
      const counted = results.filter((r) => r !== null).map((r) => r!.attempts);
      expect(counted.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    });

    it('purgeEmailSignInChallenges deletes expired challenges only, at most `limit`', async () => {
      const live = newChallenge({ expiresAt: T0 + 1000 });
      const expired = [newChallenge({ expiresAt: T0 + 10 }), newChallenge({ expiresAt: T0 + 20 }), newChallenge({ expiresAt: T0 + 30 })];
      for (const c of [live, ...expired]) await ctx.store.putEmailSignInChallenge(c);
      expect(await ctx.store.purgeEmailSignInChallenges(T0 + 500, 2)).toBe(2);
      expect(await ctx.store.purgeEmailSignInChallenges(T0 + 500, 2)).toBe(1);
      expect(await ctx.store.purgeEmailSignInChallenges(T0 + 500, 2)).toBe(0);
      expect(await ctx.store.consumeEmailSignInToken(live.tokenHash, T0 + 500, MAX)).not.toBeNull();
    });
  });
}
