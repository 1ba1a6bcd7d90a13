import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { authenticate, requestMeta, type AuthState } from '../../http/auth-guard.js';
import { unwrap } from '../../http/error-handler.js';
import { emailProperty, nameProperty, passwordProperty, problems, userSchema } from '../../http/schemas.js';
import { decodeUserCursor } from '../../store/query-helpers.js';
import { publicUser } from '../auth/service.js';
import { publicEvent, securityEventSchema } from '../events/routes.js';
import { sessionSchema } from '../sessions/routes.js';
import { publicSession } from '../sessions/service.js';
import {
  ADMIN_ROLE,
  ROLE_PATTERN,
  adminCreateUser,
  adminDeleteUser,
  adminRevokeSessions,
  adminUpdateUser,
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

/** 401 without a valid token, 403 FORBIDDEN unless the caller's stored roles include admin. */
export async function requireAdmin(ctx: LatchkeyContext, request: FastifyRequest): Promise<AuthState> {
  const auth = await authenticate(ctx, request);
  if (!auth.user.roles.includes(ADMIN_ROLE)) throw new AppError('FORBIDDEN', { detail: 'This route requires the admin role.' });
  return auth;
}

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
      await requireAdmin(ctx, request);
      const q = request.query;
      const limit = Math.min(200, Math.max(1, Number(q.limit ?? 50)));
      if (q.cursor && !decodeUserCursor(q.cursor)) {
        throw new AppError('VALIDATION_FAILED', {
          detail: 'The paging cursor is not one this server issued.',
          errors: [{ field: 'cursor', message: 'must be a next_cursor value from a previous page' }],
        });
      }
      const page = await ctx.store.listUsers({
        cursor: q.cursor ?? null,
        limit,
        search: q.search?.trim() || null,
        disabled: flag(q.disabled),
        emailVerified: flag(q.verified),
        role: q.role ?? null,
      });
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
      const admin = await requireAdmin(ctx, request);
      const user = unwrap(await adminCreateUser(ctx, admin.user.id, request.body, requestMeta(request)));
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
      await requireAdmin(ctx, request);
      const user = await ctx.store.findUserById(request.params.id);
      if (!user) throw new AppError('NOT_FOUND', { detail: 'No such user.' });
      const [sessions, events] = await Promise.all([
        ctx.store.listSessions(user.id, ctx.clock()),
        ctx.store.listEvents(user.id, 50),
      ]);
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
        summary: 'Update name, roles, disabled, email_verified (roles or disabling revoke the sessions)',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { name: nameProperty, roles: rolesProperty, disabled: { type: 'boolean' }, email_verified: { type: 'boolean' } },
        },
        response: { 200: { type: 'object', required: ['user'], properties: { user: userSchema } }, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request) => {
      const admin = await requireAdmin(ctx, request);
      const user = unwrap(await adminUpdateUser(ctx, admin.user.id, request.params.id, request.body, requestMeta(request)));
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
      const admin = await requireAdmin(ctx, request);
      unwrap(await adminDeleteUser(ctx, admin.user.id, request.params.id, requestMeta(request)));
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
      const admin = await requireAdmin(ctx, request);
      return { revoked: unwrap(await adminRevokeSessions(ctx, admin.user.id, request.params.id, requestMeta(request))) };
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
      const admin = await requireAdmin(ctx, request);
      unwrap(await adminRevokeSessions(ctx, admin.user.id, request.params.id, requestMeta(request), request.params.sid));
      return reply.code(204).send();
    },
  );
}
