import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/store/types.js';

// Rows of the OAuth provider written straight through the real store, for the browser-side tests
// (SDK, demo, console) that need a registered client and a user's consent without driving the
// provider's pages. A Grant is shaped as oidc-provider 9 writes it (its Grant model's payload:
// kind, jti, accountId, clientId, openid.scope, iat/exp in seconds), so the listings and the
// revocation read exactly what a real consent leaves behind.

const DAY = 24 * 3600_000;

/** Registers a client (no secret) and returns its id. */
export async function seedOAuthClient(
  store: Store,
  opts: { name?: string; logoUri?: string; clientUri?: string; now?: number } = {},
): Promise<string> {
  const id = `seeded-${randomUUID().slice(0, 8)}`;
  const now = opts.now ?? Date.now();
  const created = await store.createOAuthClient({
    id,
    name: opts.name ?? 'Seeded app',
    secretHash: null,
    metadata: {
      redirect_uris: ['https://app.example/cb'],
      post_logout_redirect_uris: [],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      scope: 'openid profile email offline_access',
      ...(opts.logoUri ? { logo_uri: opts.logoUri } : {}),
      ...(opts.clientUri ? { client_uri: opts.clientUri } : {}),
    },
    firstParty: false,
    dynamic: false,
    createdAt: now,
    updatedAt: now,
    secretRotatedAt: null,
  });
  if (!created) throw new Error(`client id ${id} taken`);
  return id;
}

/**
 * A user's consent to a client, as oidc-provider's Grant model stores it, plus (optionally) an
 * access token issued from it; returns the grant id.
 */
export async function seedOAuthGrant(
  store: Store,
  grant: { userId: string; clientId: string; scope: string; at?: number; withToken?: boolean },
): Promise<{ grantId: string; tokenId: string | null }> {
  const grantId = randomUUID();
  const at = grant.at ?? Date.now();
  const iat = Math.floor(at / 1000);
  await store.upsertOAuthPayload({
    model: 'Grant',
    id: grantId,
    payload: { kind: 'Grant', jti: grantId, accountId: grant.userId, clientId: grant.clientId, openid: { scope: grant.scope }, iat, exp: iat + 365 * 86400 },
    grantId: null,
    userCode: null,
    uid: null,
    accountId: grant.userId,
    clientId: grant.clientId,
    expiresAt: at + 365 * DAY,
    consumedAt: null,
  });
  if (!grant.withToken) return { grantId, tokenId: null };
  const tokenId = randomUUID();
  await store.upsertOAuthPayload({
    model: 'AccessToken',
    id: tokenId,
    payload: { kind: 'AccessToken', jti: tokenId, accountId: grant.userId, clientId: grant.clientId, grantId, scope: grant.scope, iat, exp: iat + 3600 },
    grantId,
    userCode: null,
    uid: null,
    accountId: grant.userId,
    clientId: grant.clientId,
    expiresAt: at + 3600_000,
    consumedAt: null,
  });
  return { grantId, tokenId };
}
