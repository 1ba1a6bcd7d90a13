/**
 * The audit entries of the OAuth clients and grants (features/oauth-provider/client-routes.ts,
 * grant-routes.ts, command.ts): which client an admin registered, changed, deleted or re-keyed,
 * which grant an admin revoked, which app a user disconnected. Never a secret nor its hash: a new
 * secret is `secret: {set: true}`, a rotation `secret: {rotated: true}`; a client's inline keys
 * are only `has_jwks`.
 */
import type { FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { requestMeta } from '../../http/request.js';
import type { OAuthClientRecord } from '../../store/types.js';
import { publicClient } from '../oauth-provider/clients.js';
import { adminActor, recordAudit } from './service.js';

/** The audited fields of a client: what an admin sets, never the secret, the keys only as a flag. */
const CLIENT_FIELDS = [
  'name',
  'token_endpoint_auth_method',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'scopes',
  'first_party',
  'logo_uri',
  'client_uri',
  'jwks_uri',
  'has_jwks',
] as const;

function fields(c: OAuthClientRecord | null): Record<string, unknown> {
  if (!c) return {};
  const p = publicClient(c) as unknown as Record<string, unknown>;
  return Object.fromEntries(CLIENT_FIELDS.map((f) => [f, p[f]]));
}

/**
 * `{field: {from, to}}` of the client fields that differ (null `before`: every field from null;
 * null `after`: every field to null).
 *
 * @example
 * oauthClientChanges(before, after); // { redirect_uris: { from: ['https://a/cb'], to: ['https://b/cb'] } }
 */
export function oauthClientChanges(before: OAuthClientRecord | null, after: OAuthClientRecord | null): Record<string, { from: unknown; to: unknown }> {
  const a = fields(before);
  const b = fields(after);
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of CLIENT_FIELDS) {
    const from = a[key] ?? null;
    const to = b[key] ?? null;
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[key] = { from, to };
  }
  return changes;
}

/** The target of a client's entries. */
export function oauthClientTarget(clientId: string): { type: 'oauth_client'; id: string } {
  return { type: 'oauth_client', id: clientId };
}

/**
 * Appends the entry of an admin's action on a client or a grant (`admin.oauth_client.*`,
 * `admin.oauth_grant.revoked`).
 *
 * @example
 * await auditOAuthAdminAction(ctx, request, 'admin.oauth_client.deleted', oauthClientTarget(id), oauthClientChanges(before, null));
 */
export function auditOAuthAdminAction(
  ctx: LatchkeyContext,
  request: FastifyRequest,
  action: string,
  target: { type: string; id: string },
  changes: Record<string, unknown> | null,
): Promise<void> {
  const meta = requestMeta(request);
  return recordAudit(ctx, { actor: adminActor(request.auth!.user.id, meta), action, target, changes, meta });
}

/**
 * Appends `user.oauth_grant.revoked`: the signed-in user disconnected an app (every grant of
 * theirs to that client).
 *
 * @example
 * await auditUserGrantRevoked(ctx, request, clientId, 2);
 */
export function auditUserGrantRevoked(ctx: LatchkeyContext, request: FastifyRequest, clientId: string, grantIds: readonly string[]): Promise<void> {
  const meta = requestMeta(request);
  const user = request.auth!.user;
  return recordAudit(ctx, {
    actor: { type: 'user', id: user.id, email: user.email },
    action: 'user.oauth_grant.revoked',
    target: oauthClientTarget(clientId),
    changes: { grant_ids: [...grantIds], grants_revoked: grantIds.length },
    meta,
  });
}
