import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import { auditOAuthAdminAction, oauthClientChanges, oauthClientTarget } from '../audit/oauth-actions.js';
import {
  CLIENT_AUTH_METHODS,
  CLIENT_GRANT_TYPES,
  CLIENT_NAME_MAX,
  CLIENT_URL_MAX,
  MAX_CLIENT_KEYS,
  MAX_REDIRECT_URIS,
  createClient,
  deleteClient,
  getClient,
  listClients,
  publicClient,
  rotateClientSecret,
  updateClient,
  type ClientInput,
  type ClientPatch,
} from './clients.js';

const description =
  'Requires an access token of a user with the `admin` role (401 without a token, 403 without the role; with STEP_UP_ADMIN a recent authentication for changes). ' +
  'Clients can be registered while OAUTH_PROVIDER is off. See docs/oauth-provider.md, "Registering clients".';

/** The query of the cursor-paged admin lists of this room (clients, a client's grants). */
export const PAGE_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page' },
    limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..200, default 50' },
  },
} as const;

export const oauthClientSchema = {
  type: 'object',
  required: [
    'client_id',
    'name',
    'type',
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
    'dynamic',
    'created_at',
    'updated_at',
    'secret_rotated_at',
  ],
  properties: {
    client_id: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string', enum: ['public', 'confidential'], description: 'public: token_endpoint_auth_method "none" (PKCE, no credentials)' },
    token_endpoint_auth_method: { type: 'string', enum: [...CLIENT_AUTH_METHODS] },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: { type: 'array', items: { type: 'string' } },
    grant_types: { type: 'array', items: { type: 'string' } },
    scopes: { type: 'array', items: { type: 'string' }, description: 'The scopes the client may ask for' },
    first_party: { type: 'boolean', description: 'Skips the consent page' },
    logo_uri: { type: ['string', 'null'] },
    client_uri: { type: ['string', 'null'] },
    jwks_uri: { type: ['string', 'null'] },
    has_jwks: { type: 'boolean', description: 'private_key_jwt with inline keys (jwks); the keys themselves are not shown' },
    dynamic: { type: 'boolean', description: 'Registered through RFC 7591 dynamic registration' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    secret_rotated_at: { type: ['string', 'null'], format: 'date-time', description: 'When the current secret was made; null without one' },
  },
} as const;

const clientEnvelope = { type: 'object', required: ['client'], properties: { client: oauthClientSchema } } as const;
const secretProperty = { type: 'string', description: '`lks_<base64url>`: shown in this answer only; Latchkey keeps only its SHA-256' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

const uriList = { type: 'array', maxItems: MAX_REDIRECT_URIS, items: { type: 'string', minLength: 1, maxLength: CLIENT_URL_MAX } } as const;
const optionalUrl = { type: ['string', 'null'], maxLength: CLIENT_URL_MAX } as const;

/** The client fields of POST and PATCH (docs/oauth-provider.md lists the rules the service checks beyond these shapes). */
const clientProperties = {
  name: { type: 'string', minLength: 1, maxLength: CLIENT_NAME_MAX },
  redirect_uris: {
    ...uriList,
    description:
      'Exact, absolute, no fragment; https, or http on localhost/127.0.0.1/[::1]; a custom scheme (com.example.app:/cb) only for public clients. ' +
      'At least one for the authorization_code grant',
  },
  post_logout_redirect_uris: { ...uriList, description: 'Where RP-initiated logout may return to; the same rules' },
  grant_types: {
    type: 'array',
    minItems: 1,
    maxItems: CLIENT_GRANT_TYPES.length,
    items: { type: 'string', enum: [...CLIENT_GRANT_TYPES] },
    description: 'Default ["authorization_code", "refresh_token"]; client_credentials only for confidential clients',
  },
  token_endpoint_auth_method: {
    type: 'string',
    enum: [...CLIENT_AUTH_METHODS],
    description: 'Default client_secret_basic; "none" makes a public client (PKCE); private_key_jwt needs jwks or jwks_uri',
  },
  scopes: {
    type: 'array',
    maxItems: 64,
    items: { type: 'string', pattern: '^[A-Za-z0-9:._-]{1,64}$' },
    description: 'Default ["openid", "profile", "email"]; built-in: openid, profile, email, offline_access, roles; more with OAUTH_SCOPES',
  },
  first_party: { type: 'boolean', description: 'Default false. A first-party client skips the consent page' },
  logo_uri: { ...optionalUrl, description: 'https (http on localhost); shown on the consent page' },
  client_uri: { ...optionalUrl, description: "The app's home page: https (http on localhost)" },
  jwks: {
    type: ['object', 'null'],
    required: ['keys'],
    properties: { keys: { type: 'array', minItems: 1, maxItems: MAX_CLIENT_KEYS, items: { type: 'object' } } },
    description: 'private_key_jwt: the public keys (JWK Set) the client signs its assertions with',
  },
  jwks_uri: { ...optionalUrl, description: 'private_key_jwt: an https URL serving the client’s JWK Set (instead of jwks)' },
} as const;

interface IdParams {
  id: string;
}

/**
 * The admin API of OAuth clients (docs/oauth-provider.md, "Registering clients"). Registered in
 * the admin scope: the caller is an authenticated admin (and recently re-authenticated for
 * changes when STEP_UP_ADMIN is on).
 */
export async function oauthClientAdminRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = { tags: ['oauth clients'], security: bearerSecurity, description };

  app.get<{ Querystring: { cursor?: string; limit?: string } }>(
    '/admin/oauth/clients',
    {
      schema: {
        ...common,
        summary: 'List OAuth clients, oldest first',
        querystring: PAGE_QUERY,
        response: {
          200: {
            type: 'object',
            required: ['clients', 'next_cursor'],
            properties: { clients: { type: 'array', items: oauthClientSchema }, next_cursor: { type: ['string', 'null'] } },
          },
          ...problems(401, 403, 422),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = unwrap(await listClients(ctx, { cursor: q.cursor ?? null, limit: Math.min(200, Math.max(1, Number(q.limit ?? 50))) }));
      return { clients: page.clients.map(publicClient), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Body: ClientInput }>(
    '/admin/oauth/clients',
    {
      schema: {
        ...common,
        summary: 'Register an OAuth client (its secret is in this answer only)',
        body: { type: 'object', required: ['name', 'redirect_uris'], additionalProperties: false, properties: clientProperties },
        response: {
          201: {
            type: 'object',
            required: ['client'],
            properties: { client: oauthClientSchema, client_secret: { ...secretProperty, description: `${secretProperty.description}. Only for client_secret_basic and client_secret_post` } },
          },
          ...problems(400, 401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const created = unwrap(await createClient(ctx, request.body));
      await auditOAuthAdminAction(ctx, request, 'admin.oauth_client.created', oauthClientTarget(created.client.id), {
        ...oauthClientChanges(null, created.client),
        ...(created.secret !== null ? { secret: { set: true } } : {}),
      });
      return reply.code(201).send({ client: publicClient(created.client), ...(created.secret !== null ? { client_secret: created.secret } : {}) });
    },
  );

  app.get<{ Params: IdParams }>(
    '/admin/oauth/clients/:id',
    { schema: { ...common, summary: 'One OAuth client', params: idParams, response: { 200: clientEnvelope, ...problems(401, 403, 404) } } },
    async (request) => ({ client: publicClient(unwrap(await getClient(ctx, request.params.id))) }),
  );

  app.patch<{ Params: IdParams; Body: ClientPatch }>(
    '/admin/oauth/clients/:id',
    {
      schema: {
        ...common,
        summary: 'Change an OAuth client (the whole client is checked again)',
        description:
          `${description} Null removes logo_uri, client_uri, jwks or jwks_uri. Moving to client_secret_basic/post from a method without a secret makes one, ` +
          'returned as client_secret in this answer only; moving away from them drops the secret.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: clientProperties },
        response: {
          200: {
            type: 'object',
            required: ['client'],
            properties: { client: oauthClientSchema, client_secret: { ...secretProperty, description: `${secretProperty.description}. Only when this change gave the client a secret` } },
          },
          ...problems(400, 401, 403, 404, 422),
        },
      },
    },
    async (request) => {
      const updated = unwrap(await updateClient(ctx, request.params.id, request.body));
      const changes: Record<string, unknown> = oauthClientChanges(updated.before, updated.client);
      if (updated.secret !== null) changes.secret = { set: true };
      else if (updated.before.secretHash !== null && updated.client.secretHash === null) changes.secret = { removed: true };
      if (Object.keys(changes).length > 0) await auditOAuthAdminAction(ctx, request, 'admin.oauth_client.updated', oauthClientTarget(updated.client.id), changes);
      return { client: publicClient(updated.client), ...(updated.secret !== null ? { client_secret: updated.secret } : {}) };
    },
  );

  app.delete<{ Params: IdParams }>(
    '/admin/oauth/clients/:id',
    {
      schema: {
        ...common,
        summary: 'Delete an OAuth client with its grants and tokens',
        params: idParams,
        response: { 204: { type: 'null' }, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const deleted = unwrap(await deleteClient(ctx, request.params.id));
      await auditOAuthAdminAction(ctx, request, 'admin.oauth_client.deleted', oauthClientTarget(deleted.id), oauthClientChanges(deleted, null));
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams }>(
    '/admin/oauth/clients/:id/rotate-secret',
    {
      schema: {
        ...common,
        summary: 'New client secret; the old one stops working at once',
        params: idParams,
        response: {
          200: { type: 'object', required: ['client', 'client_secret'], properties: { client: oauthClientSchema, client_secret: secretProperty } },
          ...problems(401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const rotated = unwrap(await rotateClientSecret(ctx, request.params.id));
      await auditOAuthAdminAction(ctx, request, 'admin.oauth_client.secret_rotated', oauthClientTarget(rotated.client.id), { secret: { rotated: true } });
      return { client: publicClient(rotated.client), client_secret: rotated.secret };
    },
  );
}
