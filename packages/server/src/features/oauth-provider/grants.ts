/**
 * Grants: a user's consent to a client (oidc-provider's Grant), as the user's "connected apps"
 * and an admin's view of a client show them. Revoking one deletes the Grant and every row carrying
 * its id (codes, access and refresh tokens: OAuthPayloadStore.revokeOAuthGrant), so the app's
 * tokens stop working at once (opaque ones at userinfo and introspection, refresh tokens at the
 * token endpoint) and its next sign-in asks for consent again.
 */
import type { Clock } from '../../clock.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import { decodeGrantCursor } from '../../store/oauth-rows.js';
import type { OAuthClientStore, OAuthGrantRecord, OAuthPayloadStore, UserStore } from '../../store/types.js';

export interface GrantServiceDeps {
  store: OAuthClientStore & OAuthPayloadStore & Pick<UserStore, 'findUserById'>;
  clock: Clock;
}

/** One app a user has granted access, as GET /auth/connected-apps shows it. */
export interface ConnectedApp {
  client_id: string;
  name: string;
  logo_uri: string | null;
  client_uri: string | null;
  /** Every scope of every grant of this user to the app. */
  scopes: string[];
  /** When the user last consented (the newest grant). */
  granted_at: string;
}

/** A client's grant as the admin API shows it. */
export interface AdminGrant {
  id: string;
  user: { id: string; email: string | null };
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const NO_GRANT = 'You have not granted this app access (or it was revoked already).';

/**
 * The apps a user has granted access, newest consent first: one entry per client, with the union
 * of its grants' scopes.
 *
 * @example
 * const apps = await connectedApps(ctx, request.auth!.user.id);
 */
export async function connectedApps(deps: GrantServiceDeps, userId: string): Promise<ConnectedApp[]> {
  const grants = await deps.store.listOAuthGrantsForUser(userId, deps.clock());
  const byClient = new Map<string, OAuthGrantRecord[]>();
  for (const g of grants) byClient.set(g.clientId, [...(byClient.get(g.clientId) ?? []), g]);
  const apps: ConnectedApp[] = [];
  for (const [clientId, ofClient] of byClient) {
    const client = await deps.store.findOAuthClient(clientId);
    // Deleted meanwhile: its grants went with it.
    if (!client) continue;
    apps.push({
      client_id: client.id,
      name: client.name,
      logo_uri: client.metadata.logo_uri ?? null,
      client_uri: client.metadata.client_uri ?? null,
      scopes: [...new Set(ofClient.flatMap((g) => g.scopes))],
      granted_at: iso(Math.max(...ofClient.map((g) => g.createdAt)))!,
    });
  }
  return apps.sort((a, b) => b.granted_at.localeCompare(a.granted_at));
}

/**
 * Revokes every grant of a user to a client, and with each its codes and tokens. Returns the
 * revoked grant ids; OAUTH_GRANT_NOT_FOUND when there was none.
 *
 * @example
 * const revoked = unwrap(await revokeConnectedApp(ctx, userId, clientId));
 */
export async function revokeConnectedApp(deps: GrantServiceDeps, userId: string, clientId: string): Promise<Outcome<string[]>> {
  const grants = (await deps.store.listOAuthGrantsForUser(userId, deps.clock())).filter((g) => g.clientId === clientId);
  if (grants.length === 0) return failure('OAUTH_GRANT_NOT_FOUND', NO_GRANT);
  for (const g of grants) await deps.store.revokeOAuthGrant(g.id);
  return success(grants.map((g) => g.id));
}

/**
 * A page of a client's grants (newest first) with each user's id and address.
 *
 * @example
 * const page = unwrap(await clientGrants(ctx, clientId, { limit: 50, cursor: null }));
 */
export async function clientGrants(
  deps: GrantServiceDeps,
  clientId: string,
  query: { limit: number; cursor: string | null },
): Promise<Outcome<{ grants: AdminGrant[]; nextCursor: string | null }>> {
  if (!(await deps.store.findOAuthClient(clientId))) return failure('OAUTH_CLIENT_NOT_FOUND', 'No such OAuth client.');
  if (query.cursor !== null && !decodeGrantCursor(query.cursor)) {
    return invalid({ field: 'cursor', message: 'cursor must be the next_cursor of a previous page; start again without it.' });
  }
  const page = await deps.store.listOAuthGrantsForClient(clientId, query, deps.clock());
  const grants: AdminGrant[] = [];
  for (const g of page.grants) {
    const user = await deps.store.findUserById(g.accountId);
    grants.push({ id: g.id, user: { id: g.accountId, email: user?.email ?? null }, scopes: g.scopes, created_at: iso(g.createdAt)!, expires_at: iso(g.expiresAt) });
  }
  return success({ grants, nextCursor: page.nextCursor });
}

/**
 * An admin revokes one grant of a client (with its codes and tokens). OAUTH_GRANT_NOT_FOUND when
 * the grant is not this client's (or is gone); returns the grant's user id.
 *
 * @example
 * unwrap(await revokeClientGrant(ctx, clientId, grantId));
 */
export async function revokeClientGrant(deps: GrantServiceDeps, clientId: string, grantId: string): Promise<Outcome<{ userId: string | null }>> {
  if (!(await deps.store.findOAuthClient(clientId))) return failure('OAUTH_CLIENT_NOT_FOUND', 'No such OAuth client.');
  const grant = await deps.store.findOAuthPayload('Grant', grantId, deps.clock());
  if (!grant || grant.clientId !== clientId) return failure('OAUTH_GRANT_NOT_FOUND', 'This client has no grant with this id.');
  await deps.store.revokeOAuthGrant(grantId);
  return success({ userId: grant.accountId });
}
