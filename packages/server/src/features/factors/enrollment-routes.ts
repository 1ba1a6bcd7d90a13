import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { acceptEmptyJsonBody } from '../../http/empty-json-body.js';
import { refuse, unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { problems, tokenResponseSchema } from '../../http/schemas.js';
import { failure } from '../../outcome.js';
import { refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import { confirmEnrollmentTotp, finishEnrollmentPasskey, startEnrollmentPasskey, startEnrollmentTotp } from './enrollment.js';
import { attestationSchema, optionsSchema, passkeyNameProperty, passkeySchema } from './passkey-routes.js';
import type { RegistrationResponseJSON } from './passkeys.js';
import { totpEnrollmentSchema } from './routes.js';

/** POST /auth/login's answer when MFA_REQUIRED_ROLES demands a factor the user does not have yet. */
export const mfaEnrollmentSchema = {
  type: 'object',
  required: ['mfa_enrollment_required', 'mfa_token', 'expires_in'],
  properties: {
    mfa_enrollment_required: { type: 'boolean', enum: [true] },
    mfa_token: { type: 'string', description: 'Single use; send it to POST /auth/mfa/enroll/* to add a factor and sign in' },
    expires_in: { type: 'integer', description: 'Seconds the mfa_token stays usable (MFA_CHALLENGE_TTL)' },
  },
} as const;

const mfaTokenProperty = { type: 'string', minLength: 1, maxLength: 256, description: 'The mfa_token of an mfa_enrollment_required login' } as const;
const tokenOnlyBody = { type: 'object', required: ['mfa_token'], additionalProperties: false, properties: { mfa_token: mfaTokenProperty } } as const;

function requireBody<T>(body: T | null | undefined, field: string): T {
  if (body === undefined || body === null || typeof body !== 'object') {
    refuse(failure('VALIDATION_FAILED', 'The body is invalid.', [{ field, message: `must have required property '${field}'` }]));
  }
  return body;
}

/**
 * The enrolment a MFA_REQUIRED_ROLES login demands (docs/factors.md): public routes, authorised by
 * the enrolment mfa_token alone. Errors carry the RFC 6749 `error` member, as /auth/mfa/verify's.
 */
export async function mfaEnrollmentRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);
  const tags = ['auth'];
  acceptEmptyJsonBody(app);

  app.post<{ Body: { mfa_token: string } | null | undefined }>(
    '/auth/mfa/enroll/totp',
    {
      schema: {
        tags,
        summary: 'Start the authenticator enrolment a sign-in requires',
        description:
          'With the `mfa_token` of an `mfa_enrollment_required` login: a new TOTP secret, its otpauth:// URI and QR code, ' +
          'as POST /auth/factors/totp answers. The mfa_token is not spent; confirm with POST /auth/mfa/enroll/totp/confirm.',
        body: tokenOnlyBody,
        response: {
          201: totpEnrollmentSchema,
          ...problems(400, 403, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const body = requireBody(request.body, 'mfa_token');
      const enrolment = unwrap(await startEnrollmentTotp(ctx, body.mfa_token, requestMeta(request)), true);
      return reply.code(201).send(enrolment);
    },
  );

  app.post<{ Body: { mfa_token: string; code: string } | null | undefined }>(
    '/auth/mfa/enroll/totp/confirm',
    {
      schema: {
        tags,
        summary: 'Finish the enrolment with the first code and sign in',
        description:
          'Answers the tokens as login does (send `X-Auth-Mode: cookie` here for cookie mode), with amr pwd+otp+mfa, ' +
          'plus `recovery_codes`, shown this once. A wrong code is 400 INVALID_MFA_CODE, counts toward the lockout and ' +
          'leaves the mfa_token usable.',
        body: {
          type: 'object',
          required: ['mfa_token', 'code'],
          additionalProperties: false,
          properties: { mfa_token: mfaTokenProperty, code: { type: 'string', pattern: '^[0-9]{6}$', examples: ['123456'] } },
        },
        response: {
          200: {
            ...tokenResponseSchema,
            required: [...tokenResponseSchema.required, 'recovery_codes'],
            properties: {
              ...tokenResponseSchema.properties,
              recovery_codes: { type: 'array', items: { type: 'string' }, description: 'Shown this once: each code works once' },
            },
          },
          ...problems(400, 403, 404, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const body = requireBody(request.body, 'mfa_token');
      const done = unwrap(await confirmEnrollmentTotp(ctx, body.mfa_token, body.code, requestMeta(request)), true);
      return sendTokens(ctx, refreshPath, request, reply, done.tokens, wantsCookieMode(request), { extra: { recovery_codes: done.recovery_codes } });
    },
  );

  app.post<{ Body: { mfa_token: string } | null | undefined }>(
    '/auth/mfa/enroll/passkey/options',
    {
      schema: {
        tags,
        summary: 'Creation options for the passkey a sign-in requires',
        description: 'With the `mfa_token` of an `mfa_enrollment_required` login; the mfa_token is not spent.',
        body: tokenOnlyBody,
        response: { 200: optionsSchema, ...problems(400, 403, 413, 415, 422, 429, 503) },
      },
    },
    async (request) => {
      const body = requireBody(request.body, 'mfa_token');
      return unwrap(await startEnrollmentPasskey(ctx, body.mfa_token), true);
    },
  );

  app.post<{ Body: { mfa_token: string; credential: RegistrationResponseJSON; name?: string } | null | undefined }>(
    '/auth/mfa/enroll/passkey',
    {
      schema: {
        tags,
        summary: 'Register the passkey a sign-in requires, and sign in',
        description:
          'Send the `mfa_token`, what navigator.credentials.create() answered (`credential`, its toJSON()) and optionally ' +
          'a `name`. Answers the tokens as login does (amr pwd + hwk/swk + mfa) and the new `passkey`.',
        body: {
          type: 'object',
          required: ['mfa_token', 'credential'],
          additionalProperties: false,
          properties: { mfa_token: mfaTokenProperty, credential: attestationSchema, name: passkeyNameProperty },
        },
        response: {
          200: {
            ...tokenResponseSchema,
            required: [...tokenResponseSchema.required, 'passkey'],
            properties: { ...tokenResponseSchema.properties, passkey: passkeySchema },
          },
          ...problems(400, 403, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const body = requireBody(request.body, 'mfa_token');
      const done = unwrap(
        await finishEnrollmentPasskey(ctx, body.mfa_token, body.credential, body.name?.trim() || undefined, requestMeta(request)),
        true,
      );
      return sendTokens(ctx, refreshPath, request, reply, done.tokens, wantsCookieMode(request), { extra: { passkey: done.passkey } });
    },
  );
}
