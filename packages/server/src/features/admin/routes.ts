import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { emailProperty, nameProperty, passwordProperty, problems, userSchema } from '../../http/schemas.js';
import type { UserRecord } from '../../store/types.js';
import { invitePending } from '../email/invite.js';
import { publicEvent, securityEventSchema } from '../events/routes.js';
import { passkeySchema } from '../factors/passkey-routes.js';
import { factorSchema } from '../factors/routes.js';
import { sessionSchema } from '../sessions/routes.js';
import { publicSession } from '../sessions/service.js';
import { ROLE_PATTERN } from '../users/fields.js';
import { publicUser, type PublicUser } from '../users/public-user.js';
import {
  adminCreateUser,
  adminDeleteUser,
  adminResetFactors,
  adminUserFactors,
  adminInviteUser,
  adminListUsers,
  adminRevokeSessions,
  adminSendPasswordReset,
  adminUpdateUser,
  adminUserDetail,
  type AdminCreateInput,
  type AdminInviteInput,
  type AdminPatch,
  type FactorResetType,
} from './service.js';

/** OpenAPI security of every admin route: a bearer token whose user has the `admin` role. */
const adminSecurity: Array<Record<string, string[]>> = [{ OAuth2PasswordBearer: [] }, { BearerAuth: [] }];
const adminDescription = 'Requires an access token of a user with the `admin` role (401 without a token, 403 without the role).';

const rolesProperty = { type: 'array', maxItems: 32, items: { type: 'string', pattern: ROLE_PATTERN } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const boolString = { type: 'string', enum: ['true', 'false'] } as const;

/**
 * The user as the admin API shows it: the public user (DESIGN.md's fixed fields, as /auth/me has
 * them) plus what only an admin sees. `/auth/me` keeps its shape.
 */
const adminUserSchema = {
  type: 'object',
  required: [...userSchema.required, 'last_sign_in_at', 'invite_pending'],
  properties: {
    ...userSchema.properties,
    last_sign_in_at: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'When the user last signed in (the start of their newest session); null if never',
    },
    deletion_due_at: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'When the account deletes itself (its owner asked, ACCOUNT_DELETION_GRACE); null when not scheduled. Its owner signing in cancels it',
    },
    invite_pending: {
      type: 'boolean',
      description: 'Invited by an admin and not accepted yet: the account has no password, nobody can sign in to it',
    },
  },
} as const;
const adminUserEnvelope = { type: 'object', required: ['user'], properties: { user: adminUserSchema } } as const;

type AdminUser = PublicUser & { last_sign_in_at: string | null; deletion_due_at: string | null; invite_pending: boolean };

function adminUser(u: UserRecord): AdminUser {
  return {
    ...publicUser(u),
    last_sign_in_at: u.lastSignInAt === null ? null : new Date(u.lastSignInAt).toISOString(),
    deletion_due_at: u.deletionDueAt === null ? null : new Date(u.deletionDueAt).toISOString(),
    invite_pending: invitePending(u),
  };
}

// Trimmed before the format check, as at register and login (a pasted address often carries a space).
async function trimEmail(request: { body: unknown }): Promise<void> {
  const body = request.body as { email?: unknown } | null;
  if (body && typeof body === 'object' && typeof body.email === 'string') body.email = body.email.trim();
}

interface ListQuery {
  sort?: 'created_at' | 'last_sign_in_at';
  order?: 'asc' | 'desc';
  cursor?: string;
  count?: 'true' | 'false';
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
        summary: 'List users (sorting, cursor paging, search, filters, total count)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            sort: { type: 'string', enum: ['created_at', 'last_sign_in_at'], description: 'Default created_at' },
            order: {
              type: 'string',
              enum: ['asc', 'desc'],
              description: 'Default asc. By last_sign_in_at, users who never signed in come first in asc, last in desc',
            },
            cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page, of the same sort and order' },
            count: {
              ...boolString,
              description:
                'Default true: `total` counts every match (an exact count, one more scan of the matches). ' +
                'false: `total` is null, for a client that keeps the total of the first page while it turns pages',
            },
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
            required: ['users', 'next_cursor', 'total'],
            properties: {
              users: { type: 'array', items: adminUserSchema },
              next_cursor: { type: ['string', 'null'] },
              total: { type: ['integer', 'null'], description: 'Users matching the filters, on every page (an exact count); null with count=false' },
            },
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
          sort: q.sort ?? 'created_at',
          order: q.order ?? 'asc',
          count: q.count !== 'false',
        }),
      );
      return { users: page.users.map(adminUser), next_cursor: page.nextCursor, total: page.total };
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
        response: { 201: adminUserEnvelope, ...problems(401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const user = unwrap(await adminCreateUser(ctx, request.auth!.user.id, request.body, requestMeta(request)));
      return reply.code(201).send({ user: adminUser(user) });
    },
  );

  app.post<{ Body: AdminInviteInput }>(
    '/admin/users/invite',
    {
      schema: {
        ...common,
        summary: 'Invite a user by email (they choose their own password)',
        description:
          `${adminDescription} Creates the account without a password and mails a single-use link ` +
          '(APP_URL/accept-invite?token=…, valid INVITE_TTL) where its owner chooses one; accepting marks the address verified. ' +
          'Inviting an address whose invitation is still pending mails a new link (the old one stops working) and answers 200; ' +
          'an account with a password is 409 EMAIL_TAKEN. At most 3 invitation mails per address per 15 minutes (429).',
        body: {
          type: 'object',
          required: ['email'],
          additionalProperties: false,
          properties: { email: emailProperty, name: nameProperty, roles: rolesProperty },
        },
        response: {
          200: { ...adminUserEnvelope, description: 'Already invited and not accepted: a new link was mailed' },
          201: { ...adminUserEnvelope, description: 'Invited: the account exists, the link is on its way' },
          ...problems(401, 403, 409, 422, 429),
        },
      },
      preValidation: trimEmail,
    },
    async (request, reply) => {
      const { user, created } = unwrap(await adminInviteUser(ctx, request.auth!.user.id, request.body, requestMeta(request)));
      return reply.code(created ? 201 : 200).send({ user: adminUser(user) });
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
              user: adminUserSchema,
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
        user: adminUser(user),
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
        summary: 'Update email, name, roles, disabled, email_verified (disabling ends the sessions)',
        description:
          `${adminDescription} A new email must be free (409 EMAIL_TAKEN) and becomes unverified unless the same request sets ` +
          '`email_verified: true`; links mailed to the old address stop working; the sessions stay. ' +
          'Disabling ends every session of the user at once. New roles reach the admin routes at once and the ' +
          "user's access tokens at their next refresh; `end_sessions: true` (default ROLE_CHANGE_ENDS_SESSIONS) " +
          'ends their sessions instead when the roles change. The last enabled admin cannot be demoted or disabled (409 LAST_ADMIN).',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            email: emailProperty,
            name: nameProperty,
            roles: rolesProperty,
            disabled: { type: 'boolean' },
            email_verified: { type: 'boolean' },
            end_sessions: { type: 'boolean', description: 'When the roles change, end the user’s sessions now' },
          },
        },
        response: { 200: adminUserEnvelope, ...problems(401, 403, 404, 409, 422) },
      },
      preValidation: trimEmail,
    },
    async (request) => {
      const user = unwrap(await adminUpdateUser(ctx, request.auth!.user.id, request.params.id, request.body, requestMeta(request)));
      return { user: adminUser(user) };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/admin/users/:id/password-reset',
    {
      schema: {
        ...common,
        summary: 'Mail the user a password-reset link',
        description:
          `${adminDescription} The same single-use link (RESET_TOKEN_TTL) and mail as POST /auth/password/forgot, sent in the ` +
          'background after the answer. At most 3 reset mails per address per 15 minutes, counted together with forgot-password (429 with Retry-After).',
        params: idParams,
        response: { 202: { type: 'null', description: 'Accepted: the mail is on its way' }, ...problems(401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      unwrap(await adminSendPasswordReset(ctx, request.auth!.user.id, request.params.id, requestMeta(request)));
      return reply.code(202).send();
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

  app.get<{ Params: { id: string } }>(
    '/admin/users/:id/factors',
    {
      schema: {
        ...common,
        summary: 'A user’s second factors: authenticator status, recovery codes left, passkeys',
        description: `${adminDescription} No secret, code or public key is ever shown. \`mfa_required\`: a role of the user is in MFA_REQUIRED_ROLES.`,
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['factors', 'recovery_codes_left', 'passkeys', 'mfa_required'],
            properties: {
              factors: { type: 'array', items: factorSchema },
              recovery_codes_left: { type: 'integer' },
              passkeys: { type: 'array', items: passkeySchema },
              mfa_required: { type: 'boolean', description: 'MFA_REQUIRED_ROLES applies to this user' },
            },
          },
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => unwrap(await adminUserFactors(ctx, request.params.id)),
  );

  app.delete<{ Params: { id: string }; Querystring: { type?: FactorResetType } }>(
    '/admin/users/:id/factors',
    {
      schema: {
        ...common,
        summary: 'Reset a user’s second factors (security event and a mail to the user)',
        description:
          `${adminDescription} Removes the authenticator with its recovery codes and the passkeys (\`type=totp\` or ` +
          '`type=passkeys`: only those), and the user’s outstanding login challenges; their sessions stay. Recorded as ' +
          '`factors_reset_by_admin` naming the admin; the user is mailed. A user of a MFA_REQUIRED_ROLES role enrols again at their next sign-in.',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { type: { type: 'string', enum: ['all', 'totp', 'passkeys'], description: 'Default all' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['removed'],
            properties: {
              removed: {
                type: 'object',
                required: ['totp', 'recovery_codes', 'passkeys'],
                properties: { totp: { type: 'integer' }, recovery_codes: { type: 'integer' }, passkeys: { type: 'integer' } },
              },
            },
          },
          ...problems(401, 403, 404, 422),
        },
      },
    },
    async (request) =>
      unwrap(await adminResetFactors(ctx, request.auth!.user.id, request.params.id, request.query.type ?? 'all', requestMeta(request))),
  );
}
