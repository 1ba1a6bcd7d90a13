/** The second factors concern: TOTP factors and recovery codes, with the races the contract settles. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewFactor } from '../../../src/store/types.js';
import { T0, SECOND, hash, type StoreCaseContext } from './context.js';

function newFactor(userId: string, overrides: Partial<NewFactor> = {}): NewFactor {
  return { id: randomUUID(), userId, kind: 'totp', secret: `lk1:sealed-${randomUUID()}`, createdAt: T0, ...overrides };
}

export function factorCases(ctx: StoreCaseContext): void {
  const { user } = ctx;

  describe('second factors', () => {
    it('putPendingFactor stores a pending factor, replaces a pending one, and keeps an active one', async () => {
      const u = await user();
      const first = newFactor(u.id);
      expect(await ctx.store.putPendingFactor(first)).toBe(true);
      expect(await ctx.store.listFactors(u.id)).toEqual([
        { ...first, confirmedAt: null, lastUsedStep: null, lastUsedAt: null },
      ]);
      const second = newFactor(u.id, { createdAt: T0 + SECOND });
      expect(await ctx.store.putPendingFactor(second)).toBe(true);
      expect((await ctx.store.listFactors(u.id)).map((f) => f.id)).toEqual([second.id]);
      expect(await ctx.store.confirmFactor(u.id, second.id, 100, T0 + 2 * SECOND, [hash()])).toBe(true);
      expect(await ctx.store.putPendingFactor(newFactor(u.id))).toBe(false);
      expect(await ctx.store.listFactors(u.id)).toEqual([
        { ...second, confirmedAt: T0 + 2 * SECOND, lastUsedStep: 100, lastUsedAt: T0 + 2 * SECOND },
      ]);
      expect(await ctx.store.listFactors((await user()).id)).toEqual([]);
    });

    it('confirmFactor activates only a pending factor of this user and sets the recovery codes with it', async () => {
      const u = await user();
      const other = await user();
      const f = newFactor(u.id);
      await ctx.store.putPendingFactor(f);
      const codes = [hash(), hash(), hash()];
      expect(await ctx.store.confirmFactor(other.id, f.id, 7, T0, codes)).toBe(false);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(0);
      expect(await ctx.store.confirmFactor(u.id, f.id, 7, T0, codes)).toBe(true);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(3);
      expect(await ctx.store.confirmFactor(u.id, f.id, 8, T0, [hash()])).toBe(false);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(3);
    });

    it('useTotpStep accepts only later steps of an active factor', async () => {
      const u = await user();
      const f = newFactor(u.id);
      await ctx.store.putPendingFactor(f);
      expect(await ctx.store.useTotpStep(f.id, 10, T0)).toBe(false); // pending
      await ctx.store.confirmFactor(u.id, f.id, 10, T0, []);
      expect(await ctx.store.useTotpStep(f.id, 10, T0)).toBe(false); // the confirming code's step
      expect(await ctx.store.useTotpStep(f.id, 9, T0)).toBe(false);
      expect(await ctx.store.useTotpStep(f.id, 11, T0 + SECOND)).toBe(true);
      expect(await ctx.store.useTotpStep(f.id, 11, T0 + SECOND)).toBe(false);
      expect(await ctx.store.useTotpStep(f.id, 13, T0 + 2 * SECOND)).toBe(true);
      expect(await ctx.store.useTotpStep(f.id, 12, T0 + 2 * SECOND)).toBe(false);
      expect((await ctx.store.listFactors(u.id))[0]).toMatchObject({ lastUsedStep: 13, lastUsedAt: T0 + 2 * SECOND });
    });

    it('20 concurrent uses of one TOTP step: exactly one wins', async () => {
      const u = await user();
      const f = newFactor(u.id);
      await ctx.store.putPendingFactor(f);
      await ctx.store.confirmFactor(u.id, f.id, 1, T0, []);
      const results = await Promise.all(Array.from({ length: 20 }, () => ctx.store.useTotpStep(f.id, 2, T0 + SECOND)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('10 concurrent confirmations of one pending factor: exactly one wins, and one set of codes remains', async () => {
      const u = await user();
      const f = newFactor(u.id);
      await ctx.store.putPendingFactor(f);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => ctx.store.confirmFactor(u.id, f.id, 5 + i, T0, [hash(), hash()])),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(2);
    });

    it('spendRecoveryCode spends a code of this user once; replaceRecoveryCodes voids the old set', async () => {
      const u = await user();
      const other = await user();
      const [a, b] = [hash(), hash()];
      await ctx.store.replaceRecoveryCodes(u.id, [a, b], T0);
      expect(await ctx.store.spendRecoveryCode(other.id, a, T0)).toBe(false);
      expect(await ctx.store.spendRecoveryCode(u.id, hash(), T0)).toBe(false);
      expect(await ctx.store.spendRecoveryCode(u.id, a, T0 + 1)).toBe(true);
      expect(await ctx.store.spendRecoveryCode(u.id, a, T0 + 2)).toBe(false);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(1);
      const c = hash();
      await ctx.store.replaceRecoveryCodes(u.id, [c], T0 + 3);
      expect(await ctx.store.spendRecoveryCode(u.id, b, T0 + 4)).toBe(false);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(1);
      expect(await ctx.store.spendRecoveryCode(u.id, c, T0 + 4)).toBe(true);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(0);
    });

    it('20 concurrent spends of one recovery code: exactly one wins', async () => {
      const u = await user();
      const code = hash();
      await ctx.store.replaceRecoveryCodes(u.id, [code, hash()], T0);
      const results = await Promise.all(Array.from({ length: 20 }, () => ctx.store.spendRecoveryCode(u.id, code, T0 + 1)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(1);
    });

    it('deleteFactor removes a factor of this user, and the recovery codes with the last active one', async () => {
      const u = await user();
      const other = await user();
      const f = newFactor(u.id);
      await ctx.store.putPendingFactor(f);
      await ctx.store.confirmFactor(u.id, f.id, 1, T0, [hash(), hash()]);
      expect(await ctx.store.deleteFactor(other.id, f.id)).toBe(false);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(2);
      expect(await ctx.store.deleteFactor(u.id, f.id)).toBe(true);
      expect(await ctx.store.listFactors(u.id)).toEqual([]);
      expect(await ctx.store.countRecoveryCodes(u.id)).toBe(0);
      expect(await ctx.store.deleteFactor(u.id, f.id)).toBe(false);
      // A pending factor's removal leaves the codes of... nothing: none exist without an active factor.
      const pending = newFactor(u.id);
      await ctx.store.putPendingFactor(pending);
      expect(await ctx.store.deleteFactor(u.id, pending.id)).toBe(true);
    });

    it('one mfa_challenge token: 20 concurrent consumes, exactly one receives the user', async () => {
      const u = await user();
      const t = hash();
      await ctx.store.createOneTimeToken({ tokenHash: t, userId: u.id, purpose: 'mfa_challenge', createdAt: T0, expiresAt: T0 + 300 * SECOND });
      expect(await ctx.store.findOneTimeToken(t, 'verify_email', T0 + 1)).toBeNull();
      expect(await ctx.store.findOneTimeToken(t, 'mfa_challenge', T0 + 1)).toBe(u.id);
      const results = await Promise.all(Array.from({ length: 20 }, () => ctx.store.consumeOneTimeToken(t, 'mfa_challenge', T0 + 1)));
      expect(results.filter((r) => r === u.id)).toHaveLength(1);
    });

    it("deleteUser removes the user's factors and recovery codes", async () => {
      const u = await user();
      const f = newFactor(u.id);
      await ctx.store.putPendingFactor(f);
      await ctx.store.confirmFactor(u.id, f.id, 1, T0, [hash()]);
      const before = await ctx.countRows();
      expect(before).toMatchObject({ factors: 1, recovery_codes: 1 });
      expect(await ctx.store.deleteUser(u.id, T0)).toBe(true);
      expect(await ctx.countRows()).toMatchObject({ factors: 0, recovery_codes: 0 });
    });
  });
}
