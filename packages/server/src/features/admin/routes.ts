import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { emailProperty, nameProperty, passwordProperty, problems, userSchema } from '../../http/schemas.js';
import { publicEvent, securityEventSchema } from '../events/routes.js';
import { sessionSchema } from '../sessions/routes.js';
import { publicSession } from '../sessions/service.js';
import { ROLE_PATTERN } from '../users/fields.js';
import { publicUser } from '../users/public-user.js';
import {
  adminCreateUser,
  adminDeleteUser,
  adminListUsers,
  adminRevokeSessions,
  adminUpdateUser,
  adminUserDetail,
  type AdminCreateInput,
  type AdminPatch,
} from './service.js';

/** OpenAPI security of every admin route: a bearer token whose user has the `admin` role. */
const adminSecurity: Array<Record<string, string[]>> = [{ OAuth2PasswordBearer: [] }, { BearerAuth: [] }];
const adminDescription = 'Requires an access token of a user with the `admin` role (401 without a token, 403 without the role).';

const rolesProperty = { type: 'array', maxItems: 32, items: { type: 'string', pattern: ROLE_PATTERN } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const boolString = { type: 'string', enum: ['true', 'false'] } as const;

interface ListQuery {
  cursor?: string;
  limit?: string;
  search?: string;
  disabled?: 'true' | 'false';
  verified?: 'true' | 'false';
  role?: string;
}

function flag(v: 'true' | 'false' | undefined): boolean | null {
  return v === undefined ? null : v === 'true';
}

/**
 * The admin API. Registered in the admin scope: its preHandler has authenticated the caller,
 * checked the `admin` role of the stored user (401 / 403 otherwise) and set `request.auth`.
 */
export async function adminRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = { tags: ['admin'], security: adminSecurity, description: adminDescription };

  app.get<{ Querystring: ListQuery }>(
    '/admin/users',
    {
      schema: {
        ...common,
        summary: 'List users (cursor paging, search, filters)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cursor: { type: 'string', maxLength: 200 },
            limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..200, default 50' },
            search: { type: 'string', maxLength: 200, description: 'Substring of the email or the name' },
            disabled: boolString,
            verified: boolString,
            role: { type: 'string', pattern: ROLE_PATTERN },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['users', 'next_cursor'],
            properties: { users: { type: 'array', items: userSchema }, next_cursor: { type: ['string', 'null'] } },
          },
          ...problems(401, 403, 422),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = unwrap(
        await adminListUsers(ctx, {
          cursor: q.cursor ?? null,
          limit: Math.min(200, Math.max(1, Number(q.limit ?? 50))),
          search: q.search?.trim() || null,
          disabled: flag(q.disabled),
          emailVerified: flag(q.verified),
          role: q.role ?? null,
        }),
      );
      return { users: page.users.map(publicUser), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Body: AdminCreateInput }>(
    '/admin/users',
    {
      schema: {
        ...common,
        summary: 'Create a user',
        body: {
          type: 'object',
          required: ['email', 'password'],
          additionalProperties: false,
          properties: {
            email: emailProperty,
            password: passwordProperty,
            name: nameProperty,
            roles: rolesProperty,
            email_verified: { type: 'boolean' },
          },
        },
        response: { 201: { type: 'object', required: ['user'], properties: { user: userSchema } }, ...problems(401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const user = unwrap(await adminCreateUser(ctx, request.auth!.user.id, request.body, requestMeta(request)));
      return reply.code(201).send({ user: publicUser(user) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/users/:id',
    {
      schema: {
        ...common,
        summary: 'One user with their live sessions and recent security events',
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['user', 'sessions', 'events'],
            properties: {
              user: userSchema,
              sessions: { type: 'array', items: sessionSchema },
              events: { type: 'array', items: securityEventSchema },
            },
          },
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => {
      const { user, sessions, events } = unwrap(await adminUserDetail(ctx, request.params.id));
      return {
        user: publicUser(user),
        sessions: sessions.map((s) => publicSession(s, null)),
        events: events.map(publicEvent),
      };
    },
  );

  app.patch<{ Params: { id: string }; Body: AdminPatch }>(
    '/admin/users/:id',
    {
      schema: {
        ...common,
        summary: 'Update name, roles, disabled, email_verified (disabling ends the sessions)',
        description:
          'Disabling ends every session of the user at once. New roles reach the admin routes at once and the ' +
          "user's access tokens at their next refresh; `end_sessions: true` (default ROLE_CHANGE_ENDS_SESSIONS) " +
          'ends their sessions instead when the roles change.',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            name: nameProperty,
            roles: rolesProperty,
            disabled: { type: 'boolean' },
            email_verified: { type: 'boolean' },
            end_sessions: { type: 'boolean', description: 'When the roles change, end the user’s sessions now' },
          },
        },
        response: { 200: { type: 'object', required: ['user'], properties: { user: userSchema } }, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request) => {
      const user = unwrap(await adminUpdateUser(ctx, request.auth!.user.id, request.params.id, request.body, requestMeta(request)));
      return { user: publicUser(user) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/users/:id',
    {
      schema: {
        ...common,
        summary: 'Delete a user with their sessions, tokens and events',
        params: idParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      unwrap(await adminDeleteUser(ctx, request.auth!.user.id, request.params.id, requestMeta(request)));
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    '/admin/users/:id/revoke-sessions',
    {
      schema: {
        ...common,
        summary: 'Revoke every session of a user',
        params: idParams,
        response: {
          200: { type: 'object', required: ['revoked'], properties: { revoked: { type: 'integer' } } },
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => {
      return { revoked: unwrap(await adminRevokeSessions(ctx, request.auth!.user.id, request.params.id, requestMeta(request))) };
    },
  );

  app.delete<{ Params: { id: string; sid: string } }>(
    '/admin/users/:id/sessions/:sid',
    {
      schema: {
        ...common,
        summary: 'Revoke one session of a user',
        params: {
          type: 'object',
          required: ['id', 'sid'],
          properties: { id: { type: 'string', maxLength: 64 }, sid: { type: 'string', maxLength: 64 } },
        },
        response: { 204: { type: 'null', description: 'Revoked' }, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      unwrap(await adminRevokeSessions(ctx, request.auth!.user.id, request.params.id, requestMeta(request), request.params.sid));
      return reply.code(204).send();
    },
  );
}
