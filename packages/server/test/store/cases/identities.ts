/** The identities concern: linked provider accounts (unique per provider), single-use sign-in states and exchange codes. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ExchangeCodeRecord, NewIdentity, OAuthStateRecord } from '../../../src/store/types.js';
import { T0, SECOND, hash, type StoreCaseContext } from './context.js';

function newIdentity(userId: string, overrides: Partial<NewIdentity> = {}): NewIdentity {
  return {
    id: randomUUID(),
    userId,
    provider: 'acme',
    subject: randomUUID(),
    email: 'someone@example.com',
    emailVerified: true,
    createdAt: T0,
    ...overrides,
  };
}

function newState(overrides: Partial<OAuthStateRecord> = {}): OAuthStateRecord {
  return {
    stateHash: hash(),
    browserHash: hash(),
    provider: 'acme',
    nonce: 'nonce-value',
    codeVerifier: 'verifier-value',
    redirectTo: 'https://app.example/done',
    appCodeChallenge: null,
    linkUserId: null,
    createdAt: T0,
    expiresAt: T0 + 600 * SECOND,
    ...overrides,
  };
}

function newCode(userId: string, identityId: string, overrides: Partial<ExchangeCodeRecord> = {}): ExchangeCodeRecord {
  return { codeHash: hash(), userId, identityId, purpose: 'sign_in', appCodeChallenge: 'challenge', createdAt: T0, expiresAt: T0 + 120 * SECOND, ...overrides };
}

export function identityCases(ctx: StoreCaseContext): void {
  const { user } = ctx;

  describe('identities', () => {
    it('createIdentity links several per user, listed oldest first; findIdentity finds any user’s; touch records a use', async () => {
      const u = await user();
      const a = newIdentity(u.id, { provider: 'google', email: null, emailVerified: false });
      const b = newIdentity(u.id, { provider: 'github', createdAt: T0 + SECOND });
      expect(await ctx.store.createIdentity(b)).toBe(true);
      expect(await ctx.store.createIdentity(a)).toBe(true);
      expect(await ctx.store.listIdentities(u.id)).toEqual([
        { ...a, lastUsedAt: null },
        { ...b, lastUsedAt: null },
      ]);
      expect(await ctx.store.findIdentity('github', b.subject)).toEqual({ ...b, lastUsedAt: null });
      expect(await ctx.store.findIdentity('google', b.subject)).toBeNull();
      await ctx.store.touchIdentity(a.id, 'new@example.com', true, T0 + 5 * SECOND);
      expect(await ctx.store.findIdentity('google', a.subject)).toEqual({ ...a, email: 'new@example.com', emailVerified: true, lastUsedAt: T0 + 5 * SECOND });
      expect(await ctx.store.listIdentities((await user()).id)).toEqual([]);
    });

    it('of concurrent createIdentity calls for one (provider, subject), across users, exactly one links', async () => {
      const users = await Promise.all([user(), user(), user(), user()]);
      const subject = randomUUID();
      const results = await Promise.all(users.map((u) => ctx.store.createIdentity(newIdentity(u.id, { subject }))));
      expect(results.filter(Boolean)).toHaveLength(1);
      const owner = users[results.indexOf(true)]!;
      expect((await ctx.store.findIdentity('acme', subject))?.userId).toBe(owner.id);
      // The same subject at another provider is another identity.
      expect(await ctx.store.createIdentity(newIdentity(users[0]!.id, { subject, provider: 'other' }))).toBe(true);
    });

    it('deleteIdentity removes only the given user’s identity', async () => {
      const u = await user();
      const other = await user();
      const i = newIdentity(u.id);
      await ctx.store.createIdentity(i);
      expect(await ctx.store.deleteIdentity(other.id, i.id)).toBe(false);
      expect(await ctx.store.deleteIdentity(u.id, i.id)).toBe(true);
      expect(await ctx.store.deleteIdentity(u.id, i.id)).toBe(false);
      expect(await ctx.store.findIdentity(i.provider, i.subject)).toBeNull();
    });

    it('deleteIdentity with keepOne never removes the last identity, even when the unlinks race', async () => {
      const u = await user();
      const ids = [newIdentity(u.id, { provider: 'a' }), newIdentity(u.id, { provider: 'b' }), newIdentity(u.id, { provider: 'c' })];
      for (const i of ids) await ctx.store.createIdentity(i);
      const results = await Promise.all(ids.map((i) => ctx.store.deleteIdentity(u.id, i.id, true)));
      expect(results.filter(Boolean)).toHaveLength(2);
      const [left] = await ctx.store.listIdentities(u.id);
      expect(await ctx.store.listIdentities(u.id)).toHaveLength(1);
      expect(await ctx.store.deleteIdentity(u.id, left!.id, true)).toBe(false);
      expect(await ctx.store.deleteIdentity(u.id, left!.id)).toBe(true);
    });

    it('consumeOAuthState gives the row once, to exactly one of concurrent callers; an expired state never', async () => {
      const u = await user();
      const state = newState({ linkUserId: u.id, appCodeChallenge: 'abc', nonce: null });
      await ctx.store.createOAuthState(state);
      const results = await Promise.all(Array.from({ length: 5 }, () => ctx.store.consumeOAuthState(state.stateHash, T0 + SECOND)));
      expect(results.filter((r) => r !== undefined)).toEqual([state]);
      expect(await ctx.store.consumeOAuthState(state.stateHash, T0 + SECOND)).toBeUndefined();
      const expired = newState();
      await ctx.store.createOAuthState(expired);
      expect(await ctx.store.consumeOAuthState(expired.stateHash, expired.expiresAt)).toBeUndefined();
      expect(await ctx.store.consumeOAuthState(hash(), T0)).toBeUndefined();
    });

    it('consumeExchangeCode gives the row once, to exactly one of concurrent callers; an expired code never', async () => {
      const u = await user();
      const i = newIdentity(u.id);
      await ctx.store.createIdentity(i);
      const code = newCode(u.id, i.id, { purpose: 'link', appCodeChallenge: null });
      await ctx.store.createExchangeCode(code);
      const results = await Promise.all(Array.from({ length: 5 }, () => ctx.store.consumeExchangeCode(code.codeHash, T0 + SECOND)));
      expect(results.filter((r) => r !== undefined)).toEqual([code]);
      const expired = newCode(u.id, i.id);
      await ctx.store.createExchangeCode(expired);
      expect(await ctx.store.consumeExchangeCode(expired.codeHash, expired.expiresAt)).toBeUndefined();
    });

    it('purgeOAuthStates deletes expired states and codes only; deleteUser takes identities, states and codes', async () => {
      const u = await user();
      const i = newIdentity(u.id);
      await ctx.store.createIdentity(i);
      for (let n = 0; n < 3; n++) await ctx.store.createOAuthState(newState({ expiresAt: T0 + n * SECOND }));
      await ctx.store.createExchangeCode(newCode(u.id, i.id, { expiresAt: T0 }));
      await ctx.store.createOAuthState(newState({ linkUserId: u.id }));
      await ctx.store.createExchangeCode(newCode(u.id, i.id));
      expect(await ctx.store.purgeOAuthStates(T0 + 2 * SECOND, 2)).toBe(3);
      expect(await ctx.store.purgeOAuthStates(T0 + 2 * SECOND, 10)).toBe(1);
      expect(await ctx.store.purgeOAuthStates(T0 + 2 * SECOND, 10)).toBe(0);
      expect(await ctx.countRows()).toMatchObject({ identities: 1, oauth_states: 1, oauth_exchange_codes: 1 });
      expect(await ctx.store.deleteUser(u.id, T0)).toBe(true);
      expect(await ctx.countRows()).toMatchObject({ identities: 0, oauth_states: 0, oauth_exchange_codes: 0 });
    });
  });
}
