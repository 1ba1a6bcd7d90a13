/**
 * The OAuth payload concern (oidc-provider's storage, issue 22): upsert and find, expiry,
 * consume, destroy, the lookups by uid and user code, revoking a grant, the grant listings of a
 * user and of a client (scopes from the Grant payload, createdAt from its iat, paging), the purge,
 * and a deleted user's or client's rows going with it.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { OAuthClientStore, OAuthPayloadRecord, Store } from '../../../src/store/types.js';
import { DAY, SECOND, T0, type StoreCaseContext } from './context.js';

function payload(model: string, overrides: Partial<OAuthPayloadRecord> = {}): OAuthPayloadRecord {
  const id = overrides.id ?? randomUUID();
  return {
    model,
    id,
    payload: { jti: id, kind: model, iat: Math.floor(T0 / 1000), exp: Math.floor((T0 + DAY) / 1000) },
    grantId: null,
    userCode: null,
    uid: null,
    accountId: null,
    clientId: null,
    expiresAt: T0 + DAY,
    consumedAt: null,
    ...overrides,
  };
}

/** A Grant payload as oidc-provider writes it: OIDC scopes in openid.scope, API scopes per resource. */
function grant(accountId: string, clientId: string, iatMs: number, scope: string, resources: Record<string, string> = {}, id = randomUUID()): OAuthPayloadRecord {
  return payload('Grant', {
    id,
    accountId,
    clientId,
    payload: { jti: id, kind: 'Grant', accountId, clientId, iat: Math.floor(iatMs / 1000), exp: Math.floor((iatMs + 365 * DAY) / 1000), openid: { scope }, resources },
    expiresAt: iatMs + 365 * DAY,
  });
}

export function oauthPayloadCases(ctx: StoreCaseContext): void {
  /** A client row for the foreign key (OAuthClientStore is the other half of the concern). */
  async function client(id = `c-${randomUUID().slice(0, 8)}`): Promise<string> {
    const store = ctx.store as Store & OAuthClientStore;
    const created = await store.createOAuthClient({
      id,
      name: 'App',
      secretHash: null,
      metadata: { redirect_uris: ['https://app.example/cb'], post_logout_redirect_uris: [], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', scope: 'openid' },
      firstParty: false,
      dynamic: false,
      createdAt: T0,
      updatedAt: T0,
      secretRotatedAt: null,
    });
    expect(created).toBe(true);
    return id;
  }

  describe('oauth payloads', () => {
    it('upsert then find returns the record as written; a second upsert replaces it; another model with the same id is another row', async () => {
      const u = await ctx.user();
      const c = await client();
      const rec = payload('AccessToken', { accountId: u.id, clientId: c, grantId: 'g1', payload: { jti: 'x', nested: { a: [1, 'two'] }, iat: 1 } });
      await ctx.store.upsertOAuthPayload(rec);
      expect(await ctx.store.findOAuthPayload('AccessToken', rec.id, T0)).toEqual(rec);
      const changed = { ...rec, payload: { jti: 'x', changed: true }, expiresAt: T0 + 2 * DAY };
      await ctx.store.upsertOAuthPayload(changed);
      expect(await ctx.store.findOAuthPayload('AccessToken', rec.id, T0)).toEqual(changed);
      expect(await ctx.store.findOAuthPayload('RefreshToken', rec.id, T0)).toBeNull();
      await ctx.store.upsertOAuthPayload({ ...rec, model: 'RefreshToken' });
      expect((await ctx.store.findOAuthPayload('AccessToken', rec.id, T0))?.payload).toEqual({ jti: 'x', changed: true });
    });

    it('an expired row is not found (expiry is exclusive at now); a row without expiry always is', async () => {
      const rec = payload('Session', { expiresAt: T0 + SECOND });
      await ctx.store.upsertOAuthPayload(rec);
      expect(await ctx.store.findOAuthPayload('Session', rec.id, T0 + SECOND - 1)).not.toBeNull();
      expect(await ctx.store.findOAuthPayload('Session', rec.id, T0 + SECOND)).toBeNull();
      const forever = payload('Session', { expiresAt: null });
      await ctx.store.upsertOAuthPayload(forever);
      expect(await ctx.store.findOAuthPayload('Session', forever.id, T0 + 1000 * DAY)).toEqual(forever);
    });

    it('consume marks the row with the first time only; destroy deletes one row', async () => {
      const rec = payload('AuthorizationCode');
      await ctx.store.upsertOAuthPayload(rec);
      expect(await ctx.store.consumeOAuthPayload('AuthorizationCode', rec.id, T0 + SECOND)).toBe(true);
      expect(await ctx.store.consumeOAuthPayload('AuthorizationCode', rec.id, T0 + 5 * SECOND)).toBe(false);
      expect((await ctx.store.findOAuthPayload('AuthorizationCode', rec.id, T0 + 6 * SECOND))?.consumedAt).toBe(T0 + SECOND);
      expect(await ctx.store.consumeOAuthPayload('AuthorizationCode', 'absent', T0)).toBe(false); // no row: no error
      const other = payload('AuthorizationCode');
      await ctx.store.upsertOAuthPayload(other);
      await ctx.store.destroyOAuthPayload('AuthorizationCode', rec.id);
      expect(await ctx.store.findOAuthPayload('AuthorizationCode', rec.id, T0)).toBeNull();
      expect(await ctx.store.findOAuthPayload('AuthorizationCode', other.id, T0)).toEqual(other);
    });

    it('consume has exactly one winner under concurrency (a code or refresh token is spent once)', async () => {
      const rec = payload('RefreshToken');
      await ctx.store.upsertOAuthPayload(rec);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ctx.store.consumeOAuthPayload('RefreshToken', rec.id, T0 + i)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('finds by uid and by user code within the model, live rows only', async () => {
      const s = payload('Session', { uid: 'uid-1' });
      const d = payload('DeviceCode', { userCode: 'ABCD-EFGH', expiresAt: T0 + SECOND });
      await ctx.store.upsertOAuthPayload(s);
      await ctx.store.upsertOAuthPayload(d);
      expect(await ctx.store.findOAuthPayloadByUid('Session', 'uid-1', T0)).toEqual(s);
      expect(await ctx.store.findOAuthPayloadByUid('Interaction', 'uid-1', T0)).toBeNull();
      expect(await ctx.store.findOAuthPayloadByUid('Session', 'uid-2', T0)).toBeNull();
      expect(await ctx.store.findOAuthPayloadByUserCode('DeviceCode', 'ABCD-EFGH', T0)).toEqual(d);
      expect(await ctx.store.findOAuthPayloadByUserCode('DeviceCode', 'ABCD-EFGH', T0 + SECOND)).toBeNull();
    });

    it('revokeOAuthGrant deletes every row of the grant, the Grant itself included, and nothing else', async () => {
      const u = await ctx.user();
      const c = await client();
      const g = grant(u.id, c, T0, 'openid');
      await ctx.store.upsertOAuthPayload(g);
      const rows = ['AccessToken', 'RefreshToken', 'AuthorizationCode'].map((m) => payload(m, { grantId: g.id, accountId: u.id, clientId: c }));
      for (const r of rows) await ctx.store.upsertOAuthPayload(r);
      const keep = payload('AccessToken', { grantId: 'another-grant', accountId: u.id, clientId: c });
      await ctx.store.upsertOAuthPayload(keep);
      expect(await ctx.store.revokeOAuthGrant(g.id)).toBe(4);
      for (const r of [g, ...rows]) expect(await ctx.store.findOAuthPayload(r.model, r.id, T0)).toBeNull();
      expect(await ctx.store.findOAuthPayload('AccessToken', keep.id, T0)).toEqual(keep);
      expect(await ctx.store.revokeOAuthGrant(g.id)).toBe(0);
      expect(await ctx.store.listOAuthGrantsForUser(u.id, T0)).toEqual([]);
    });

    it('lists a user\'s grants newest first, with the scopes of openid.scope and every resource, deduplicated, createdAt from iat', async () => {
      const u = await ctx.user();
      const other = await ctx.user();
      const [c1, c2] = [await client(), await client()];
      const older = grant(u.id, c1, T0, 'openid profile email');
      const newer = grant(u.id, c2, T0 + 10 * SECOND, 'openid offline_access', { 'https://api.example': 'read:things openid write:things' });
      const expired = { ...grant(u.id, c1, T0 - 400 * DAY, 'openid'), expiresAt: T0 - DAY };
      await ctx.store.upsertOAuthPayload(older);
      await ctx.store.upsertOAuthPayload(newer);
      await ctx.store.upsertOAuthPayload(expired);
      await ctx.store.upsertOAuthPayload(grant(other.id, c1, T0, 'openid'));
      await ctx.store.upsertOAuthPayload(payload('AccessToken', { accountId: u.id, clientId: c1, grantId: older.id }));
      expect(await ctx.store.listOAuthGrantsForUser(u.id, T0 + 20 * SECOND)).toEqual([
        { id: newer.id, accountId: u.id, clientId: c2, scopes: ['openid', 'offline_access', 'read:things', 'write:things'], createdAt: T0 + 10 * SECOND, expiresAt: newer.expiresAt },
        { id: older.id, accountId: u.id, clientId: c1, scopes: ['openid', 'profile', 'email'], createdAt: T0, expiresAt: older.expiresAt },
      ]);
    });

    it('lists a client\'s grants newest first in pages by (created, id); a malformed cursor gives an empty page', async () => {
      const c = await client();
      const other = await client();
      const ids: string[] = [];
      // Two grants per second: the id breaks the tie.
      for (let i = 0; i < 5; i++) {
        const u = await ctx.user();
        const g = grant(u.id, c, T0 + Math.floor(i / 2) * SECOND, 'openid');
        ids.push(g.id);
        await ctx.store.upsertOAuthPayload(g);
      }
      await ctx.store.upsertOAuthPayload(grant((await ctx.user()).id, other, T0 + 9 * SECOND, 'openid'));
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { grants: { id: string; createdAt: number }[]; nextCursor: string | null } = await ctx.store.listOAuthGrantsForClient(c, { limit: 2, cursor }, T0);
        seen.push(...page.grants.map((g) => g.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(3);
      const all = (await ctx.store.listOAuthGrantsForClient(c, { limit: 10 }, T0)).grants;
      expect(all.map((g) => g.id)).toEqual(seen);
      expect(new Set(seen)).toEqual(new Set(ids));
      const created = all.map((g) => g.createdAt);
      expect(created).toEqual([...created].sort((a, b) => b - a));
      expect(await ctx.store.listOAuthGrantsForClient(c, { limit: 2, cursor: 'not-a-cursor' }, T0)).toEqual({ grants: [], nextCursor: null });
    });

    it('purge deletes expired rows only, at most `limit` at a time', async () => {
      for (let i = 0; i < 3; i++) await ctx.store.upsertOAuthPayload(payload('AccessToken', { expiresAt: T0 + i }));
      const live = payload('AccessToken', { expiresAt: T0 + DAY });
      const forever = payload('Session', { expiresAt: null });
      await ctx.store.upsertOAuthPayload(live);
      await ctx.store.upsertOAuthPayload(forever);
      expect(await ctx.store.purgeExpiredOAuthPayloads(T0 + 10, 2)).toBe(2);
      expect(await ctx.store.purgeExpiredOAuthPayloads(T0 + 10, 2)).toBe(1);
      expect(await ctx.store.purgeExpiredOAuthPayloads(T0 + 10, 2)).toBe(0);
      expect(await ctx.store.findOAuthPayload('AccessToken', live.id, T0)).toEqual(live);
      expect(await ctx.store.findOAuthPayload('Session', forever.id, T0)).toEqual(forever);
    });

    it('deleting a user deletes their payload rows (grants, tokens, sessions); other users keep theirs', async () => {
      const u = await ctx.user();
      const keep = await ctx.user();
      const c = await client();
      const g = grant(u.id, c, T0, 'openid');
      await ctx.store.upsertOAuthPayload(g);
      await ctx.store.upsertOAuthPayload(payload('RefreshToken', { accountId: u.id, clientId: c, grantId: g.id }));
      await ctx.store.upsertOAuthPayload(payload('Session', { accountId: u.id, uid: 'u-session' }));
      const kept = grant(keep.id, c, T0, 'openid');
      await ctx.store.upsertOAuthPayload(kept);
      expect(await ctx.store.deleteUser(u.id, T0)).toBeTruthy();
      expect(await ctx.rowsMentioning([u.id])).toMatchObject({ oauth_payloads: 0 });
      expect(await ctx.store.listOAuthGrantsForUser(keep.id, T0)).toHaveLength(1);
    });
  });
}
