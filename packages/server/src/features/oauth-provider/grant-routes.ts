import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import { auditOAuthAdminAction, auditUserGrantRevoked } from '../audit/oauth-actions.js';
import { clientGrants, connectedApps, revokeClientGrant, revokeConnectedApp } from './grants.js';
import { PAGE_QUERY } from './client-routes.js';

const connectedAppSchema = {
  type: 'object',
  required: ['client_id', 'name', 'logo_uri', 'client_uri', 'scopes', 'granted_at'],
  properties: {
    client_id: { type: 'string' },
    name: { type: 'string' },
    logo_uri: { type: ['string', 'null'] },
    client_uri: { type: ['string', 'null'] },
    scopes: { type: 'array', items: { type: 'string' }, description: 'Every scope the user granted this app' },
    granted_at: { type: 'string', format: 'date-time', description: 'When the user last consented' },
  },
} as const;

export const oauthGrantSchema = {
  type: 'object',
  required: ['id', 'user', 'scopes', 'created_at', 'expires_at'],
  properties: {
    id: { type: 'string' },
    user: {
      type: 'object',
      required: ['id', 'email'],
      properties: { id: { type: 'string' }, email: { type: ['string', 'null'] } },
    },
    scopes: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
    expires_at: { type: ['string', 'null'], format: 'date-time', description: 'When the remembered consent lapses (OAUTH_CONSENT_TTL)' },
  },
} as const;

/**
 * The signed-in user's connected apps: the OAuth clients they granted access, and revoking one
 * (docs/oauth-provider.md). Registered in the signed-in scope.
 */
export async function connectedAppRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = { tags: ['oauth clients'], security: bearerSecurity };

  app.get(
    '/auth/connected-apps',
    {
      schema: {
        ...common,
        summary: 'The apps you granted access to your account (OAuth clients), newest consent first',
        response: { 200: { type: 'object', required: ['apps'], properties: { apps: { type: 'array', items: connectedAppSchema } } }, ...problems(401) },
      },
    },
    async (request) => ({ apps: await connectedApps(ctx, request.auth!.user.id) }),
  );

  app.delete<{ Params: { client_id: string } }>(
    '/auth/connected-apps/:client_id',
    {
      schema: {
        ...common,
        summary: "Revoke an app's access: every grant you gave it, and every token it holds from them",
        description: 'The app has to ask for your consent again at its next sign-in.',
        params: { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null' }, ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const revoked = unwrap(await revokeConnectedApp(ctx, request.auth!.user.id, request.params.client_id));
      await auditUserGrantRevoked(ctx, request, request.params.client_id, revoked);
      return reply.code(204).send();
    },
  );
}

/**
 * An admin's view of a client's grants, and revoking one. Registered in the admin scope.
 */
export async function oauthGrantAdminRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = {
    tags: ['oauth clients'],
    security: bearerSecurity,
    description: 'Requires an access token of a user with the `admin` role (401 without a token, 403 without the role). See docs/oauth-provider.md.',
  };

  app.get<{ Params: { id: string }; Querystring: { cursor?: string; limit?: string } }>(
    '/admin/oauth/clients/:id/grants',
    {
      schema: {
        ...common,
        summary: "A client's grants (the users who consented), newest first",
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        querystring: PAGE_QUERY,
        response: {
          200: {
            type: 'object',
            required: ['grants', 'next_cursor'],
            properties: { grants: { type: 'array', items: oauthGrantSchema }, next_cursor: { type: ['string', 'null'] } },
          },
          ...problems(401, 403, 404, 422),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = unwrap(await clientGrants(ctx, request.params.id, { cursor: q.cursor ?? null, limit: Math.min(200, Math.max(1, Number(q.limit ?? 50))) }));
      return { grants: page.grants, next_cursor: page.nextCursor };
    },
  );

  app.delete<{ Params: { id: string; grant_id: string } }>(
    '/admin/oauth/clients/:id/grants/:grant_id',
    {
      schema: {
        ...common,
        summary: 'Revoke a grant with its codes and tokens',
        params: {
          type: 'object',
          required: ['id', 'grant_id'],
          properties: { id: { type: 'string', maxLength: 64 }, grant_id: { type: 'string', maxLength: 200 } },
        },
        response: { 204: { type: 'null' }, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const revoked = unwrap(await revokeClientGrant(ctx, request.params.id, request.params.grant_id));
      await auditOAuthAdminAction(ctx, request, 'admin.oauth_grant.revoked', { type: 'oauth_grant', id: request.params.grant_id }, {
        client_id: request.params.id,
        user_id: revoked.userId,
      });
      return reply.code(204).send();
    },
  );
}
