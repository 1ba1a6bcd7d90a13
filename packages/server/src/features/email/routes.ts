import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { bearerSecurity, emailProperty, passwordProperty, problems, userEnvelopeSchema } from '../../http/schemas.js';
import { publicUser } from '../users/public-user.js';
import { forgotPassword, requestVerificationMail, resendVerificationByEmail, resetPassword, verifyEmail } from './service.js';

/** A token from a mailed link: opaque, 43 base64url characters when Latchkey made it. */
const tokenProperty = { type: 'string', minLength: 1, maxLength: 512, description: 'The `token` parameter of the mailed link' } as const;

const accepted = (description: string) => ({ type: 'null', description });

/**
 * POST /auth/email/verify-request. Registered in the signed-in scope: its preHandler has set
 * `request.auth` before the handler runs.
 */
export async function verificationRequestRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;

  app.post(
    '/auth/email/verify-request',
    {
      schema: {
        tags: ['email'],
        summary: 'Mail a new verification link to the signed-in user',
        description:
          'Sends a fresh single-use link (the previous one stops working), valid VERIFY_EMAIL_TTL. ' +
          'At most one per user per minute (429 with Retry-After). The mail is sent in the background after the answer.',
        security: bearerSecurity,
        response: { 202: accepted('Accepted: the mail is on its way'), ...problems(401, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      unwrap(await requestVerificationMail(ctx, request.auth!.user, requestMeta(request)));
      return reply.code(202).send();
    },
  );
}

/** Email verification, its resend by address, and password reset by mailed single-use links (docs/email.md): no access token needed. */
export async function emailRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;

  app.post<{ Body: { token: string } }>(
    '/auth/email/verify',
    {
      schema: {
        tags: ['email'],
        summary: 'Confirm an email address with the token of the mailed link',
        description: 'No access token needed: the link may be opened on another device. Access tokens issued from now on carry `email_verified: true`.',
        body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: tokenProperty } },
        response: { 200: userEnvelopeSchema, ...problems(400, 413, 415, 422, 429, 503) },
      },
    },
    async (request) => {
      const user = unwrap(await verifyEmail(ctx, request.body.token, requestMeta(request)));
      return { user: publicUser(user) };
    },
  );

  // Trimmed before the format check, as at register and login.
  const trimEmail = async (request: FastifyRequest) => {
    const body = request.body as { email?: unknown } | null;
    if (body && typeof body === 'object' && typeof body.email === 'string') body.email = body.email.trim();
  };

  app.post<{ Body: { email: string } }>(
    '/auth/email/verify-resend',
    {
      schema: {
        tags: ['email'],
        summary: 'Mail a new verification link to an address (signed out)',
        description:
          'For a user who cannot sign in until their address is verified (REQUIRE_VERIFIED_EMAIL) and lost the link. ' +
          'Always 202, whether or not an account has this address, answered before the account is looked up; a mail ' +
          'goes only to an active account whose address is not verified yet, at most once a minute per account (the ' +
          'new link replaces the previous one). At most 3 requests per address per 15 minutes (429 with Retry-After, ' +
          'for every address alike).',
        body: { type: 'object', required: ['email'], additionalProperties: false, properties: { email: emailProperty } },
        response: { 202: accepted('Accepted: a mail is sent if an unverified account has this address'), ...problems(413, 415, 422, 429, 503) },
      },
      preValidation: trimEmail,
    },
    async (request, reply) => {
      unwrap(await resendVerificationByEmail(ctx, request.body.email, requestMeta(request)));
      return reply.code(202).send();
    },
  );

  app.post<{ Body: { email: string } }>(
    '/auth/password/forgot',
    {
      schema: {
        tags: ['email'],
        summary: 'Mail a password-reset link',
        description:
          'Always 202, whether or not an account has this address, answered before the account is looked up. ' +
          'At most 3 requests per address per 15 minutes (429 with Retry-After, for every address alike).',
        body: { type: 'object', required: ['email'], additionalProperties: false, properties: { email: emailProperty } },
        response: { 202: accepted('Accepted: a mail is sent if an active account has this address'), ...problems(413, 415, 422, 429, 503) },
      },
      preValidation: trimEmail,
    },
    async (request, reply) => {
      unwrap(await forgotPassword(ctx, request.body.email, requestMeta(request)));
      return reply.code(202).send();
    },
  );

  app.post<{ Body: { token: string; new_password: string } }>(
    '/auth/password/reset',
    {
      schema: {
        tags: ['email'],
        summary: 'Set a new password with the token of the mailed link',
        description: 'Every session of the account is revoked; the address counts as verified from now on.',
        body: {
          type: 'object',
          required: ['token', 'new_password'],
          additionalProperties: false,
          properties: { token: tokenProperty, new_password: passwordProperty },
        },
        response: { 204: accepted('Password changed; every session revoked'), ...problems(400, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      unwrap(await resetPassword(ctx, request.body.token, request.body.new_password, requestMeta(request)));
      return reply.code(204).send();
    },
  );
}
