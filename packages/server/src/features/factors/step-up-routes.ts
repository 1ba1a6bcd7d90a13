import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { acceptEmptyJsonBody } from '../../http/empty-json-body.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { bearerSecurity, passwordProperty, problems, tokenResponseSchema } from '../../http/schemas.js';
import { checkCsrf, refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import { assertionSchema } from './passkey-routes.js';
import { startPasskeyReauthentication } from './passkey-service.js';
import { reauthenticate, type ReauthenticationProof } from './step-up.js';

/**
 * The signed-in routes of step-up: POST /auth/reauthenticate and the options of its passkey
 * variant (docs/factors.md, Step-up).
 */
export async function reauthenticationRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);
  const common = { tags: ['factors'], security: bearerSecurity } as const;
  acceptEmptyJsonBody(app);

  app.post<{ Body: ReauthenticationProof | null | undefined }>(
    '/auth/reauthenticate',
    {
      schema: {
        ...common,
        summary: 'Confirm it is you again (step-up)',
        description:
          'Send exactly one of `password` (accounts without a second factor), `code` or `recovery_code` (accounts with ' +
          'one), or `passkey` (an assertion for the options of POST /auth/reauthenticate/passkey/options). The session’s ' +
          '`auth_time` becomes now and its `amr` gains the method; answers a new access token and a new refresh token ' +
          '(the old one is spent, as by a refresh). With `X-Auth-Mode: cookie` (and `X-CSRF-Token`) the refresh token ' +
          'goes into the cookie. Wrong passwords and codes count toward the login lockout.',
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            password: passwordProperty,
            code: { type: 'string', pattern: '^[0-9]{6}$', description: 'A current code of the authenticator', examples: ['123456'] },
            recovery_code: { type: 'string', minLength: 1, maxLength: 64, description: 'One of the recovery codes; it is spent' },
            passkey: assertionSchema,
          },
        },
        response: { 200: tokenResponseSchema, ...problems(400, 401, 403, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const cookieMode = wantsCookieMode(request);
      // The answer sets the session's refresh cookie: the same proof as a cookie refresh.
      if (cookieMode) unwrap(checkCsrf(ctx, request));
      const tokens = unwrap(await reauthenticate(ctx, request.auth!, request.body ?? {}, requestMeta(request)));
      return sendTokens(ctx, refreshPath, request, reply, tokens, cookieMode, { keepCsrf: cookieMode });
    },
  );

  app.post(
    '/auth/reauthenticate/passkey/options',
    {
      schema: {
        ...common,
        summary: 'Options for confirming it is you with a passkey',
        description:
          'Answers request options for navigator.credentials.get() that allow only your own passkeys; the challenge works ' +
          'once, for 5 minutes, and only for POST /auth/reauthenticate of this account.',
        response: {
          200: {
            type: 'object',
            required: ['options'],
            properties: { options: { type: 'object', additionalProperties: true, required: ['challenge'], properties: { challenge: { type: 'string' } } } },
          },
          ...problems(400, 401, 413, 415, 429, 503),
        },
      },
    },
    async (request) => unwrap(await startPasskeyReauthentication(ctx, request.auth!.user.id)),
  );
}
