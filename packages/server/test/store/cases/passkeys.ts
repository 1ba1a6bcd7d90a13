/** The passkeys concern: credentials (unique ids across users, a counter that only grows) and single-use challenges. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewPasskey } from '../../../src/store/types.js';
import { T0, SECOND, hash, type StoreCaseContext } from './context.js';

function newPasskey(userId: string, overrides: Partial<NewPasskey> = {}): NewPasskey {
  return {
    id: randomUUID(),
    userId,
    credentialId: Buffer.from(randomUUID()).toString('base64url'),
    publicKey: Buffer.from(randomUUID()).toString('base64url'),
    counter: 0,
    transports: ['internal', 'hybrid'],
    deviceType: 'singleDevice',
    backedUp: false,
    aaguid: '00000000-0000-0000-0000-000000000000',
    name: 'Passkey',
    createdAt: T0,
    ...overrides,
  };
}

export function passkeyCases(ctx: StoreCaseContext): void {
  const { user } = ctx;

  describe('passkeys', () => {
    it('createPasskey stores several per user, listed oldest first; findPasskeyByCredentialId finds any user’s', async () => {
      const u = await user();
      const a = newPasskey(u.id, { deviceType: 'multiDevice', backedUp: true, transports: [] });
      const b = newPasskey(u.id, { createdAt: T0 + SECOND, counter: 7 });
      expect(await ctx.store.createPasskey(b)).toBe(true);
      expect(await ctx.store.createPasskey(a)).toBe(true);
      expect(await ctx.store.listPasskeys(u.id)).toEqual([
        { ...a, lastUsedAt: null },
        { ...b, lastUsedAt: null },
      ]);
      expect(await ctx.store.findPasskeyByCredentialId(b.credentialId)).toEqual({ ...b, lastUsedAt: null });
      expect(await ctx.store.findPasskeyByCredentialId('nope')).toBeNull();
      expect(await ctx.store.listPasskeys((await user()).id)).toEqual([]);
    });

    it('a credential id is unique across users: of concurrent registrations exactly one is stored', async () => {
      const [u, v] = [await user(), await user()];
      const credentialId = Buffer.from(randomUUID()).toString('base64url');
      const results = await Promise.all([
        ctx.store.createPasskey(newPasskey(u.id, { credentialId })),
        ctx.store.createPasskey(newPasskey(v.id, { credentialId })),
        ctx.store.createPasskey(newPasskey(u.id, { credentialId })),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await ctx.store.listPasskeys(u.id)).length + (await ctx.store.listPasskeys(v.id)).length).toBe(1);
    });

    it('renamePasskey and deletePasskey touch only this user’s passkey', async () => {
      const [u, v] = [await user(), await user()];
      const p = newPasskey(u.id);
      await ctx.store.createPasskey(p);
      expect(await ctx.store.renamePasskey(v.id, p.id, 'stolen')).toBe(false);
      expect(await ctx.store.renamePasskey(u.id, p.id, 'Laptop')).toBe(true);
      expect((await ctx.store.listPasskeys(u.id))[0]!.name).toBe('Laptop');
      expect(await ctx.store.deletePasskey(v.id, p.id)).toBe(false);
      expect(await ctx.store.deletePasskey(u.id, p.id)).toBe(true);
      expect(await ctx.store.deletePasskey(u.id, p.id)).toBe(false);
      expect(await ctx.store.renamePasskey(u.id, p.id, 'x')).toBe(false);
      expect(await ctx.store.listPasskeys(u.id)).toEqual([]);
    });

    it('usePasskey is monotonic: a counter never goes back, and of concurrent uses with one value exactly one wins', async () => {
      const u = await user();
      const p = newPasskey(u.id, { counter: 5 });
      await ctx.store.createPasskey(p);
      expect(await ctx.store.usePasskey(p.id, 5, false, T0)).toBe(false);
      expect(await ctx.store.usePasskey(p.id, 4, false, T0)).toBe(false);
      expect(await ctx.store.usePasskey(p.id, 0, false, T0)).toBe(false);
      const racing = await Promise.all([6, 6, 6, 6].map((n) => ctx.store.usePasskey(p.id, n, true, T0 + SECOND)));
      expect(racing.filter(Boolean)).toHaveLength(1);
      expect((await ctx.store.listPasskeys(u.id))[0]).toMatchObject({ counter: 6, backedUp: true, lastUsedAt: T0 + SECOND });
      // Authenticators without a counter send 0 every time: recorded each time while both are 0.
      const z = newPasskey(u.id, { counter: 0 });
      await ctx.store.createPasskey(z);
      expect(await ctx.store.usePasskey(z.id, 0, false, T0)).toBe(true);
      expect(await ctx.store.usePasskey(z.id, 0, false, T0 + SECOND)).toBe(true);
      expect(await ctx.store.usePasskey(z.id, 3, false, T0 + 2 * SECOND)).toBe(true);
      expect(await ctx.store.usePasskey(z.id, 0, false, T0 + 3 * SECOND)).toBe(false);
      expect(await ctx.store.usePasskey(randomUUID(), 9, false, T0)).toBe(false);
    });

    it('a challenge is spent once, by its purpose only, while live; concurrent spends: exactly one wins', async () => {
      const u = await user();
      const h = hash();
      await ctx.store.createPasskeyChallenge({ challengeHash: h, purpose: 'passkey_mfa', userId: u.id, createdAt: T0, expiresAt: T0 + 60 * SECOND });
      expect(await ctx.store.consumePasskeyChallenge(h, 'passkey_login', T0)).toBeUndefined();
      expect(await ctx.store.consumePasskeyChallenge(h, 'passkey_mfa', T0 + 60 * SECOND)).toBeUndefined(); // expired
      const spends = await Promise.all([1, 2, 3, 4].map(() => ctx.store.consumePasskeyChallenge(h, 'passkey_mfa', T0)));
      expect(spends.filter((s) => s !== undefined)).toEqual([{ userId: u.id }]);
      expect(await ctx.store.consumePasskeyChallenge(h, 'passkey_mfa', T0)).toBeUndefined();

      const anonymous = hash();
      await ctx.store.createPasskeyChallenge({ challengeHash: anonymous, purpose: 'passkey_login', userId: null, createdAt: T0, expiresAt: T0 + SECOND });
      expect(await ctx.store.consumePasskeyChallenge(anonymous, 'passkey_login', T0)).toEqual({ userId: null });
    });

    it('purgePasskeyChallenges deletes expired challenges only, at most `limit`; deleteUser takes passkeys and challenges', async () => {
      const u = await user();
      for (let i = 0; i < 3; i++) {
        await ctx.store.createPasskeyChallenge({ challengeHash: hash(), purpose: 'passkey_login', userId: null, createdAt: T0, expiresAt: T0 + i * SECOND });
      }
      const live = hash();
      await ctx.store.createPasskeyChallenge({ challengeHash: live, purpose: 'passkey_register', userId: u.id, createdAt: T0, expiresAt: T0 + 60 * SECOND });
      expect(await ctx.store.purgePasskeyChallenges(T0 + 2 * SECOND, 2)).toBe(2);
      expect(await ctx.store.purgePasskeyChallenges(T0 + 2 * SECOND, 10)).toBe(1);
      expect(await ctx.store.purgePasskeyChallenges(T0 + 2 * SECOND, 10)).toBe(0);
      await ctx.store.createPasskey(newPasskey(u.id));
      expect(await ctx.countRows()).toMatchObject({ passkeys: 1, passkey_challenges: 1 });
      expect(await ctx.store.deleteUser(u.id, T0)).toBe(true);
      expect(await ctx.countRows()).toMatchObject({ passkeys: 0, passkey_challenges: 0 });
    });
  });
}
