/**
 * The OAuth clients concern (issue 22): apps registered to sign their users in through Latchkey.
 * A taken id stores nothing; the list pages by (created_at, id); update replaces the editable
 * fields; the secret is only a hash and can be set or cleared; deleting a client takes its
 * oidc-provider rows (grants, codes, tokens) along.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { OAuthClientRecord, OAuthPayloadRecord } from '../../../src/store/types.js';
import { DAY, SECOND, T0, hash, type StoreCaseContext } from './context.js';

export function newOAuthClient(overrides: Partial<OAuthClientRecord> = {}): OAuthClientRecord {
  return {
    id: `cl_${randomUUID()}`,
    name: 'Acme CRM',
    secretHash: hash(),
    metadata: {
      redirect_uris: ['https://crm.example/callback'],
      post_logout_redirect_uris: [],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile email',
    },
    firstParty: false,
    dynamic: false,
    createdAt: T0,
    updatedAt: T0,
    secretRotatedAt: null,
    ...overrides,
  };
}

export function oauthClientCases(ctx: StoreCaseContext): void {
  describe('oauth clients', () => {
    it('createOAuthClient stores the record as given (metadata JSON included); a taken id stores nothing', async () => {
      const c = newOAuthClient({
        firstParty: true,
        dynamic: true,
        secretRotatedAt: T0,
        metadata: {
          redirect_uris: ['https://a.example/cb', 'http://127.0.0.1:8080/cb'],
          post_logout_redirect_uris: ['https://a.example/bye'],
          grant_types: ['authorization_code', 'client_credentials'],
          token_endpoint_auth_method: 'private_key_jwt',
          scope: 'openid',
          jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] },
          logo_uri: 'https://a.example/logo.png',
          software_id: 'extra member kept',
        },
      });
      expect(await ctx.store.createOAuthClient(c)).toBe(true);
      expect(await ctx.store.findOAuthClient(c.id)).toEqual(c);
      expect(await ctx.store.createOAuthClient(newOAuthClient({ id: c.id, name: 'Impostor', secretHash: null }))).toBe(false);
      expect(await ctx.store.findOAuthClient(c.id)).toEqual(c);
      expect(await ctx.store.findOAuthClient('cl_missing')).toBeNull();
      const pub = newOAuthClient({ secretHash: null });
      expect(await ctx.store.createOAuthClient(pub)).toBe(true);
      expect(await ctx.store.findOAuthClient(pub.id)).toEqual(pub);
    });

    it('concurrent creates of one id: exactly one stores its record', async () => {
      const id = `cl_${randomUUID()}`;
      const names = Array.from({ length: 8 }, (_, i) => `client ${i}`);
      const results = await Promise.all(names.map((name) => ctx.store.createOAuthClient(newOAuthClient({ id, name }))));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = names[results.indexOf(true)];
      expect((await ctx.store.findOAuthClient(id))?.name).toBe(winner);
    });

    it('listOAuthClients pages by (created_at, id) with a cursor; a malformed cursor is an empty page', async () => {
      // Two share a created_at, so the id breaks the tie; insertion order differs from list order.
      const ids = ['cl_c', 'cl_a', 'cl_b', 'cl_d', 'cl_e'];
      const at = [T0 + 2 * SECOND, T0, T0 + SECOND, T0 + SECOND, T0 + 3 * SECOND];
      for (const [i, id] of ids.entries()) expect(await ctx.store.createOAuthClient(newOAuthClient({ id, createdAt: at[i]!, updatedAt: at[i]! }))).toBe(true);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await ctx.store.listOAuthClients({ limit: 2, cursor });
        expect(page.clients.length).toBeLessThanOrEqual(2);
        seen.push(...page.clients.map((c) => c.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(seen).toEqual(['cl_a', 'cl_b', 'cl_d', 'cl_c', 'cl_e']);
      expect(pages).toBe(3);

      const all = await ctx.store.listOAuthClients({ limit: 5 });
      expect(all.clients.map((c) => c.id)).toEqual(seen);
      expect(all.nextCursor).toBeNull();
      expect(all.clients[0]).toEqual(await ctx.store.findOAuthClient('cl_a'));
      expect(await ctx.store.listOAuthClients({ limit: 2, cursor: 'not-a-cursor' })).toEqual({ clients: [], nextCursor: null });
    });

    it('updateOAuthClient replaces name, metadata and first_party, keeps the secret; null for an unknown id', async () => {
      const c = newOAuthClient();
      await ctx.store.createOAuthClient(c);
      const metadata = { ...c.metadata, redirect_uris: ['https://crm.example/other'], scope: 'openid' };
      const updated = await ctx.store.updateOAuthClient(c.id, { name: 'Renamed', metadata, firstParty: true }, T0 + 5 * SECOND);
      expect(updated).toEqual({ ...c, name: 'Renamed', metadata, firstParty: true, updatedAt: T0 + 5 * SECOND });
      expect(await ctx.store.findOAuthClient(c.id)).toEqual(updated);
      expect(await ctx.store.updateOAuthClient('cl_missing', { name: 'x', metadata, firstParty: false }, T0)).toBeNull();
    });

    it('setOAuthClientSecret sets or clears the hash and records the rotation; false for an unknown id', async () => {
      const c = newOAuthClient();
      await ctx.store.createOAuthClient(c);
      const next = hash();
      expect(await ctx.store.setOAuthClientSecret(c.id, next, T0 + 7 * SECOND)).toBe(true);
      expect(await ctx.store.findOAuthClient(c.id)).toEqual({ ...c, secretHash: next, secretRotatedAt: T0 + 7 * SECOND, updatedAt: T0 + 7 * SECOND });
      expect(await ctx.store.setOAuthClientSecret(c.id, null, T0 + 8 * SECOND)).toBe(true);
      expect((await ctx.store.findOAuthClient(c.id))?.secretHash).toBeNull();
      expect(await ctx.store.setOAuthClientSecret('cl_missing', next, T0)).toBe(false);
    });

    it('deleteOAuthClient removes the client once with every oidc-provider row of it (grants, codes, tokens); the others stay', async () => {
      const a = newOAuthClient();
      const b = newOAuthClient();
      await ctx.store.createOAuthClient(a);
      await ctx.store.createOAuthClient(b);
      const u = await ctx.user();
      const grantId = randomUUID();
      const row = (model: string, clientId: string): OAuthPayloadRecord => {
        const id = randomUUID();
        return {
          model,
          id,
          payload: { jti: id, kind: model, accountId: u.id, clientId, grantId, iat: Math.floor(T0 / 1000), openid: { scope: 'openid' } },
          grantId,
          userCode: null,
          uid: null,
          accountId: u.id,
          clientId,
          expiresAt: T0 + DAY,
          consumedAt: null,
        };
      };
      const grant = { ...row('Grant', a.id), id: grantId };
      const rows = [grant, row('AuthorizationCode', a.id), row('AccessToken', a.id), row('RefreshToken', a.id)];
      const keptId = randomUUID();
      const kept = { ...row('Grant', b.id), id: keptId, grantId: keptId };
      for (const r of [...rows, kept]) await ctx.store.upsertOAuthPayload(r);
      expect(await ctx.store.deleteOAuthClient(a.id)).toBe(true);
      expect(await ctx.store.deleteOAuthClient(a.id)).toBe(false);
      expect(await ctx.store.findOAuthClient(a.id)).toBeNull();
      expect(await ctx.store.findOAuthClient(b.id)).toEqual(b);
      for (const r of rows) expect(await ctx.store.findOAuthPayload(r.model, r.id, T0), r.model).toBeNull();
      expect(await ctx.store.findOAuthPayload('Grant', kept.id, T0)).toEqual(kept);
      expect(await ctx.store.listOAuthGrantsForUser(u.id, T0)).toMatchObject([{ id: kept.id, clientId: b.id }]);
      const left = Object.entries(await ctx.rowsMentioning([a.id])).filter(([, n]) => n > 0);
      expect(left).toEqual([]);
    });
  });
}
