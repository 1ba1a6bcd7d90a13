import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { acceptEmptyJsonBody } from '../../http/empty-json-body.js';
import { refuse, unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { bearerSecurity, problems, tokenResponseSchema } from '../../http/schemas.js';
import { failure } from '../../outcome.js';
import { refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import {
  finishPasskeyRegistration,
  listOwnPasskeys,
  passkeyLogin,
  renamePasskey,
  startPasskeyLogin,
  startPasskeyRegistration,
  startPasskeySecondFactor,
} from './passkey-service.js';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from './passkeys.js';
import { mfaTokenUser, removePasskey } from './service.js';

const base64url = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+$' }) as const;

/**
 * What `PublicKeyCredential.toJSON()` (or @simplewebauthn/browser) gives for a sign-in. Members
 * the browser may add are let through; the library reads only those it knows.
 */
export const assertionSchema = {
  type: 'object',
  required: ['id', 'rawId', 'type', 'response'],
  properties: {
    id: base64url(1366),
    rawId: base64url(1366),
    type: { type: 'string', enum: ['public-key'] },
    response: {
      type: 'object',
      required: ['clientDataJSON', 'authenticatorData', 'signature'],
      properties: {
        clientDataJSON: base64url(8192),
        authenticatorData: base64url(8192),
        signature: base64url(2048),
        // null where an implementation has no user handle (a non-discoverable credential).
        userHandle: { type: ['string', 'null'], maxLength: 128, pattern: '^[A-Za-z0-9_-]*$' },
      },
    },
    clientExtensionResults: { type: 'object' },
    authenticatorAttachment: { type: 'string', maxLength: 32 },
  },
  description: 'The assertion: PublicKeyCredential.toJSON() of navigator.credentials.get()',
} as const;

export const attestationSchema = {
  type: 'object',
  required: ['id', 'rawId', 'type', 'response'],
  properties: {
    id: base64url(1366),
    rawId: base64url(1366),
    type: { type: 'string', enum: ['public-key'] },
    response: {
      type: 'object',
      required: ['clientDataJSON', 'attestationObject'],
      properties: {
        clientDataJSON: base64url(8192),
        attestationObject: base64url(65536),
        transports: { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 32 } },
      },
    },
    clientExtensionResults: { type: 'object' },
    authenticatorAttachment: { type: 'string', maxLength: 32 },
  },
  description: 'The new credential: PublicKeyCredential.toJSON() of navigator.credentials.create()',
} as const;

export const passkeyNameProperty = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  // One line of printable text, not only spaces: it is shown in lists.
  pattern: '^(?=.*\\S)[^\\u0000-\\u001f\\u007f]+$',
  description: 'A name to tell your passkeys apart',
  examples: ['Work laptop'],
} as const;

const dateTime = { type: 'string', format: 'date-time' } as const;

export const passkeySchema = {
  type: 'object',
  required: ['id', 'name', 'device_type', 'backed_up', 'transports', 'aaguid', 'created_at', 'last_used_at'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    device_type: { type: 'string', enum: ['singleDevice', 'multiDevice'], description: 'multiDevice: a synced passkey' },
    backed_up: { type: 'boolean' },
    transports: { type: 'array', items: { type: 'string' } },
    aaguid: { type: 'string', description: 'The authenticator model (zeros when it does not say)' },
    created_at: dateTime,
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

/** WebAuthn options as the browser takes them (PublicKeyCredential.parse*OptionsFromJSON); passed through whole. */
export const optionsSchema = {
  type: 'object',
  required: ['options'],
  properties: {
    options: {
      type: 'object',
      additionalProperties: true,
      required: ['challenge'],
      properties: { challenge: { type: 'string', description: 'Single use, valid 5 minutes' } },
    },
  },
} as const;

function requireBody<T>(body: T | null | undefined, field: string): T {
  if (body === undefined || body === null || typeof body !== 'object') {
    refuse(failure('VALIDATION_FAILED', 'The body is invalid.', [{ field, message: `must have required property '${field}'` }]));
  }
  return body;
}

/** The signed-in routes of passkeys: register, list, rename, remove. */
export async function passkeyRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = { tags: ['passkeys'], security: bearerSecurity } as const;
  acceptEmptyJsonBody(app);

  app.get(
    '/auth/passkeys',
    {
      schema: {
        ...common,
        summary: 'Your passkeys',
        response: {
          200: { type: 'object', required: ['passkeys'], properties: { passkeys: { type: 'array', items: passkeySchema } } },
          ...problems(401, 429, 503),
        },
      },
    },
    async (request) => listOwnPasskeys(ctx, request.auth!.user.id),
  );

  app.post(
    '/auth/passkeys/register/options',
    {
      schema: {
        ...common,
        summary: 'Start registering a passkey',
        description:
          'Answers the creation options for navigator.credentials.create() (a discoverable credential, user verification ' +
          'preferred, no attestation, your passkeys excluded). Their challenge works once, for 5 minutes.',
        response: { 200: optionsSchema, ...problems(401, 413, 415, 429, 503) },
      },
    },
    async (request) => startPasskeyRegistration(ctx, request.auth!.user),
  );

  app.post<{ Body: { response: RegistrationResponseJSON; name?: string } | null | undefined }>(
    '/auth/passkeys/register/verify',
    {
      schema: {
        ...common,
        summary: 'Finish registering a passkey',
        description: 'Send what navigator.credentials.create() answered (its toJSON()) and optionally a name.',
        body: {
          type: 'object',
          required: ['response'],
          additionalProperties: false,
          properties: { response: attestationSchema, name: passkeyNameProperty },
        },
        response: {
          201: { type: 'object', required: ['passkey'], properties: { passkey: passkeySchema } },
          ...problems(400, 401, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const body = requireBody(request.body, 'response');
      const created = unwrap(await finishPasskeyRegistration(ctx, request.auth!.user, body.response, body.name?.trim() || undefined, requestMeta(request)));
      return reply.code(201).send(created);
    },
  );

  app.patch<{ Params: { id: string }; Body: { name: string } | null | undefined }>(
    '/auth/passkeys/:id',
    {
      schema: {
        ...common,
        summary: 'Rename a passkey',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: passkeyNameProperty } },
        response: {
          200: { type: 'object', required: ['passkey'], properties: { passkey: passkeySchema } },
          ...problems(401, 404, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request) => {
      const { name } = requireBody(request.body, 'name');
      return unwrap(await renamePasskey(ctx, request.auth!.user, request.params.id, name.trim(), requestMeta(request)));
    },
  );

  app.delete<{ Params: { id: string }; Body: { code?: string; recovery_code?: string } | null | undefined }>(
    '/auth/passkeys/:id',
    {
      schema: {
        ...common,
        summary: 'Remove a passkey',
        description:
          'Needs a sign-in less than 5 minutes ago with a passkey or the second factor, or `code` / `recovery_code` ' +
          '(403 REAUTHENTICATION_REQUIRED otherwise).',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            code: { type: 'string', pattern: '^[0-9]{6}$', examples: ['123456'] },
            recovery_code: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
        response: { 204: { type: 'null', description: 'Removed' }, ...problems(400, 401, 403, 404, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const proof = { code: request.body?.code, recovery_code: request.body?.recovery_code };
      unwrap(await removePasskey(ctx, request.auth!, request.params.id, proof, requestMeta(request)));
      return reply.code(204).send();
    },
  );
}

/** The public passkey routes: a sign-in with a passkey alone, and the options of a login's passkey step. */
export async function passkeyLoginRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);
  acceptEmptyJsonBody(app);

  app.post(
    '/auth/passkeys/login/options',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start signing in with a passkey',
        description:
          'Answers request options for navigator.credentials.get() with no allowCredentials: the browser offers the ' +
          'passkeys it holds for this site. The challenge works once, for 5 minutes.',
        response: { 200: optionsSchema, ...problems(413, 415, 429, 503) },
      },
    },
    async () => startPasskeyLogin(ctx),
  );

  app.post<{ Body: { response: AuthenticationResponseJSON } | null | undefined }>(
    '/auth/passkeys/login/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with a passkey',
        description:
          'Send what navigator.credentials.get() answered. Answers the tokens as login does (send `X-Auth-Mode: cookie` ' +
          'for cookie mode). An account with a second factor needs a passkey that verified the user (PIN, biometric).',
        body: { type: 'object', required: ['response'], additionalProperties: false, properties: { response: assertionSchema } },
        response: { 200: tokenResponseSchema, ...problems(400, 403, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = requireBody(request.body, 'response');
      const result = unwrap(await passkeyLogin(ctx, body.response, requestMeta(request)), true);
      return sendTokens(ctx, refreshPath, request, reply, result.tokens, wantsCookieMode(request));
    },
  );

  app.post<{ Body: { mfa_token: string } | null | undefined }>(
    '/auth/mfa/passkey/options',
    {
      schema: {
        tags: ['auth'],
        summary: 'Options for answering a login’s second factor with a passkey',
        description:
          'Send the `mfa_token` of POST /auth/login (its `factors` list `passkey`); answers request options allowing your ' +
          'passkeys. Then POST /auth/mfa/verify with `mfa_token` and `passkey`. The mfa_token is not spent here.',
        body: {
          type: 'object',
          required: ['mfa_token'],
          additionalProperties: false,
          properties: { mfa_token: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        response: { 200: optionsSchema, ...problems(400, 413, 415, 422, 429, 503) },
      },
    },
    async (request) => {
      const body = requireBody(request.body, 'mfa_token');
      const userId = unwrap(await mfaTokenUser(ctx, body.mfa_token), true);
      return unwrap(await startPasskeySecondFactor(ctx, userId), true);
    },
  );
}
