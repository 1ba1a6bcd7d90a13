import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { acceptEmptyJsonBody } from '../../http/empty-json-body.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { bearerSecurity, localeProperty, nameProperty, passwordProperty, problems, userEnvelopeSchema, userSchema } from '../../http/schemas.js';
import { securityEventSchema } from '../events/routes.js';
import { passkeySchema } from '../factors/passkey-routes.js';
import { sessionSchema } from '../sessions/routes.js';
import { clearAuthCookies, refreshCookiePath } from '../sessions/transport.js';
import { identitySchema } from '../social/routes.js';
import { deleteOwnAccount } from './account-deletion.js';
import { exportAccount } from './account-export.js';
import { publicUser } from './public-user.js';
import { updateProfile } from './service.js';

const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

/** GET /auth/me/export's answer (features/users/account-export.ts says what is left out and why). */
const accountExportSchema = {
  type: 'object',
  required: ['exported_at', 'user', 'sessions', 'identities', 'factors', 'security_events'],
  properties: {
    exported_at: { type: 'string', format: 'date-time' },
    user: {
      type: 'object',
      required: [...userSchema.required, 'last_sign_in_at', 'has_password'],
      properties: {
        ...userSchema.properties,
        last_sign_in_at: nullableDateTime,
        has_password: { type: 'boolean', description: 'False for an account without a password of its own (social sign-in)' },
      },
    },
    sessions: { type: 'array', items: sessionSchema },
    identities: { type: 'array', items: identitySchema },
    factors: {
      type: 'object',
      required: ['totp', 'recovery_codes', 'passkeys'],
      properties: {
        totp: {
          type: ['object', 'null'],
          required: ['enabled', 'created_at', 'confirmed_at', 'last_used_at'],
          properties: {
            enabled: { type: 'boolean', description: 'false while the enrolment awaits its first code' },
            created_at: { type: 'string', format: 'date-time' },
            confirmed_at: nullableDateTime,
            last_used_at: nullableDateTime,
          },
        },
        recovery_codes: {
          type: ['object', 'null'],
          required: ['remaining'],
          properties: { remaining: { type: 'integer' } },
        },
        passkeys: { type: 'array', items: passkeySchema },
      },
    },
    security_events: { type: 'array', items: securityEventSchema, description: 'Newest first, at most 10,000 (EVENTS_RETENTION bounds them)' },
  },
} as const;

/**
 * GET, PATCH and DELETE /auth/me, and GET /auth/me/export. Registered in the signed-in scope: its preHandler has authenticated
 * the caller and set `request.auth` before these handlers run.
 */
export async function profileRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The current user',
        security: bearerSecurity,
        response: { 200: userEnvelopeSchema, ...problems(401) },
      },
    },
    // Not async: the answer is ready, and a returned object is sent without a promise (the
    // hottest route of the server).
    (request) => ({ user: publicUser(request.auth!.user) }),
  );

  app.patch<{ Body: { name?: string | null; locale?: string | null } }>(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Update the current user’s profile',
        security: bearerSecurity,
        body: { type: 'object', additionalProperties: false, properties: { name: nameProperty, locale: localeProperty } },
        response: { 200: userEnvelopeSchema, ...problems(401, 422) },
      },
    },
    async (request) => {
      const user = unwrap(await updateProfile(ctx, request.auth!.user.id, request.body));
      return { user: publicUser(user) };
    },
  );

  app.get(
    '/auth/me/export',
    {
      schema: {
        tags: ['auth'],
        summary: 'Download everything held about the current user (JSON)',
        description:
          'The profile, live sessions, linked identities, second factors (never a secret: no TOTP secret, recovery code, ' +
          'passkey credential id or public key) and security events, as the other self-service routes show them. ' +
          'Sent as an attachment `latchkey-export-<id>.json`; recorded as the `account_exported` event (docs/account.md).',
        security: bearerSecurity,
        response: { 200: accountExportSchema, ...problems(401, 429, 503) },
      },
    },
    async (request, reply) => {
      const data = unwrap(await exportAccount(ctx, request.auth!, requestMeta(request)));
      void reply.header('content-disposition', `attachment; filename="latchkey-export-${data.user.id}.json"`);
      return data;
    },
  );

  // In a scope of its own: an empty JSON body (browser code sends one) counts as no body here,
  // without changing how PATCH /auth/me reads its body.
  await app.register(async (scope) => {
    acceptEmptyJsonBody(scope);
    scope.delete<{ Body: { current_password?: string } | null | undefined }>(
      '/auth/me',
      {
        schema: {
          tags: ['auth'],
          summary: 'Delete the current user’s account',
          description:
            'Deletes the account and every row of it, ends every session, and mails a confirmation: 204. With ' +
            'ACCOUNT_DELETION_GRACE set, the deletion is scheduled instead: 202 `{deletes_at}`, every session ends at ' +
            'once, and signing in before `deletes_at` cancels it. Proof: `current_password`, or a recent authentication ' +
            'of the session (STEP_UP_MAX_AGE; the only way for an account without a password); an account with a second ' +
            'factor needs a recent authentication with it either way (403 REAUTHENTICATION_REQUIRED: POST ' +
            '/auth/reauthenticate, then retry). The last enabled admin cannot delete themselves (409 LAST_ADMIN). ' +
            'See docs/account.md.',
          security: bearerSecurity,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { current_password: passwordProperty },
          },
          response: {
            202: {
              type: 'object',
              required: ['deletes_at'],
              properties: { deletes_at: { type: 'string', format: 'date-time', description: 'When the account will be deleted unless its owner signs in first' } },
            },
            204: { type: 'null', description: 'Deleted' },
            ...problems(400, 401, 403, 409, 415, 422, 429, 503),
          },
        },
      },
      async (request, reply) => {
        const { deletesAt } = unwrap(await deleteOwnAccount(ctx, request.auth!, request.body?.current_password, requestMeta(request)));
        // Every session has ended: a browser in cookie mode drops its refresh cookie now.
        clearAuthCookies(ctx, refreshPath, reply);
        if (deletesAt === null) return reply.code(204).send();
        return reply.code(202).send({ deletes_at: new Date(deletesAt).toISOString() });
      },
    );
  });
}
