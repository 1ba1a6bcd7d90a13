import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { acceptEmptyJsonBody } from '../../http/empty-json-body.js';
import { refuse, unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { bearerSecurity, problems, tokenResponseSchema } from '../../http/schemas.js';
import { failure } from '../../outcome.js';
import { refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import { assertionSchema } from './passkey-routes.js';
import type { AuthenticationResponseJSON } from './passkeys.js';
import {
  confirmTotp,
  enrolTotp,
  listOwnFactors,
  regenerateRecoveryCodes,
  removeTotp,
  verifyMfaChallenge,
  type FactorProof,
} from './service.js';

const codeProperty = {
  type: 'string',
  pattern: '^[0-9]{6}$',
  description: 'The 6-digit code the authenticator app shows now',
  examples: ['123456'],
} as const;
const recoveryCodeProperty = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: 'One of the recovery codes (case, spaces and dashes do not matter); each works once',
} as const;

/** A code-protected request: a current code or a recovery code (or neither, right after a sign-in with the factor). */
const proofBodySchema = {
  // null: an empty JSON body (or none) is no proof, not a malformed one.
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { code: codeProperty, recovery_code: recoveryCodeProperty },
} as const;

const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const factorSchema = {
  type: 'object',
  required: ['id', 'type', 'status', 'created_at', 'confirmed_at', 'last_used_at'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['totp'] },
    status: { type: 'string', enum: ['pending', 'active'], description: 'pending until its first code confirms it' },
    created_at: dateTime,
    confirmed_at: nullableDateTime,
    last_used_at: nullableDateTime,
  },
} as const;

/** The answer that starts a TOTP enrolment (here and at POST /auth/mfa/enroll/totp). */
export const totpEnrollmentSchema = {
  type: 'object',
  required: ['factor', 'secret', 'otpauth_uri', 'qr_code'],
  properties: {
    factor: factorSchema,
    secret: { type: 'string', description: 'Base32, for typing into the app by hand' },
    otpauth_uri: { type: 'string' },
    qr_code: { type: 'string', description: 'data:image/svg+xml;base64,... of the otpauth URI' },
  },
} as const;

const recoveryCodesProperty = {
  type: 'array',
  items: { type: 'string' },
  description: 'Shown this once: each code works once; store them where the authenticator is not',
} as const;

/** POST /auth/login's answer when the account has a second factor (docs/factors.md). */
export const mfaChallengeSchema = {
  type: 'object',
  required: ['mfa_required', 'mfa_token', 'factors', 'expires_in'],
  properties: {
    mfa_required: { type: 'boolean', enum: [true] },
    mfa_token: { type: 'string', description: 'Single use; send it to POST /auth/mfa/verify with a code' },
    factors: {
      type: 'array',
      items: { type: 'string', enum: ['totp', 'recovery_code', 'passkey'] },
      description: 'What the verify request may send (passkey: get its options from POST /auth/mfa/passkey/options)',
    },
    expires_in: { type: 'integer', description: 'Seconds the mfa_token stays usable (MFA_CHALLENGE_TTL)' },
  },
} as const;

interface ProofBody {
  code?: string;
  recovery_code?: string;
}

/**
 * A body the schema did not see: without a Content-Type (or with an empty JSON body) Fastify
 * neither parses nor validates one. Answered as the schema answers a missing member.
 */
function requireBody<T>(body: T | null | undefined, field: string): T {
  if (body === undefined || body === null || typeof body !== 'object') {
    refuse(failure('VALIDATION_FAILED', 'The body is invalid.', [{ field, message: `must have required property '${field}'` }]));
  }
  return body;
}

function proofOf(body: ProofBody | null | undefined): FactorProof {
  return { code: body?.code, recovery_code: body?.recovery_code };
}

/** The signed-in routes of the factors room: list, enrol, confirm, remove, recovery codes. */
export async function factorRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = { tags: ['factors'], security: bearerSecurity } as const;
  // Browser code posts `Content-Type: application/json` with no body to enrol or remove.
  acceptEmptyJsonBody(app);

  app.get(
    '/auth/factors',
    {
      schema: {
        ...common,
        summary: 'Your second factors and how many recovery codes are left',
        response: {
          200: {
            type: 'object',
            required: ['factors', 'recovery_codes_left'],
            properties: { factors: { type: 'array', items: factorSchema }, recovery_codes_left: { type: 'integer' } },
          },
          ...problems(401, 429, 503),
        },
      },
    },
    async (request) => listOwnFactors(ctx, request.auth!.user.id),
  );

  app.post(
    '/auth/factors/totp',
    {
      schema: {
        ...common,
        summary: 'Start enrolling an authenticator app (TOTP)',
        description:
          'Answers a new secret, its otpauth:// URI and a QR code (SVG data URL) to scan; the factor stays pending until ' +
          'POST /auth/factors/totp/confirm. Starting again replaces a pending enrolment. 409 when one is already active.',
        response: {
          201: totpEnrollmentSchema,
          ...problems(401, 409, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const enrolment = unwrap(await enrolTotp(ctx, request.auth!.user, requestMeta(request)));
      return reply.code(201).send(enrolment);
    },
  );

  app.post<{ Body: { code: string } | null | undefined }>(
    '/auth/factors/totp/confirm',
    {
      schema: {
        ...common,
        summary: 'Activate the pending authenticator with its first code',
        description: 'Answers the recovery codes, shown this once. A wrong code counts toward the lockout.',
        body: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: codeProperty } },
        response: {
          200: {
            type: 'object',
            required: ['factor', 'recovery_codes'],
            properties: { factor: factorSchema, recovery_codes: recoveryCodesProperty },
          },
          ...problems(400, 401, 404, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request) => {
      const { code } = requireBody(request.body, 'code');
      return unwrap(await confirmTotp(ctx, request.auth!.user, code, requestMeta(request)));
    },
  );

  app.delete<{ Body: ProofBody | null | undefined }>(
    '/auth/factors/totp',
    {
      schema: {
        ...common,
        summary: 'Remove the authenticator',
        description:
          'A pending enrolment goes at once. An active factor needs `code` or `recovery_code`, unless this session ' +
          'signed in with it less than 5 minutes ago (403 REAUTHENTICATION_REQUIRED otherwise). The recovery codes go with it.',
        body: proofBodySchema,
        response: { 204: { type: 'null', description: 'Removed' }, ...problems(400, 401, 403, 404, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      unwrap(await removeTotp(ctx, request.auth!, proofOf(request.body), requestMeta(request)));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: ProofBody | null | undefined }>(
    '/auth/factors/recovery-codes',
    {
      schema: {
        ...common,
        summary: 'Replace your recovery codes',
        description:
          'The old set stops working. Needs `code` or `recovery_code`, unless this session signed in with the factor ' +
          'less than 5 minutes ago.',
        body: proofBodySchema,
        response: {
          200: { type: 'object', required: ['recovery_codes'], properties: { recovery_codes: recoveryCodesProperty } },
          ...problems(400, 401, 403, 404, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request) => unwrap(await regenerateRecoveryCodes(ctx, request.auth!, proofOf(request.body), requestMeta(request))),
  );
}

interface VerifyBody extends ProofBody {
  mfa_token: string;
  passkey?: AuthenticationResponseJSON;
}

/** The public half of a login with a second factor: POST /auth/mfa/verify. */
export async function mfaRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);

  app.post<{ Body: VerifyBody | null | undefined }>(
    '/auth/mfa/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Finish a login with the second factor',
        description:
          'Send the `mfa_token` of POST /auth/login with `code` (the authenticator), `recovery_code` or `passkey` (an ' +
          'assertion for the options of POST /auth/mfa/passkey/options). Answers the tokens ' +
          'as login does; send `X-Auth-Mode: cookie` here for cookie mode. A wrong code is 400 INVALID_MFA_CODE, counts ' +
          'toward the lockout and leaves the mfa_token usable until it expires or the lockout engages.',
        body: {
          type: 'object',
          required: ['mfa_token'],
          additionalProperties: false,
          properties: {
            mfa_token: { type: 'string', minLength: 1, maxLength: 256 },
            code: codeProperty,
            recovery_code: recoveryCodeProperty,
            passkey: assertionSchema,
          },
        },
        response: { 200: tokenResponseSchema, ...problems(400, 403, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = requireBody(request.body, 'mfa_token');
      const proof = { ...proofOf(body), passkey: body.passkey };
      const result = unwrap(await verifyMfaChallenge(ctx, body.mfa_token, proof, requestMeta(request)), true);
      return sendTokens(ctx, refreshPath, request, reply, result.tokens, wantsCookieMode(request));
    },
  );
}
