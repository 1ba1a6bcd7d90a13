import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { emailProperty, localeProperty, nameProperty, passwordProperty, problems, tokenResponseSchema, userEnvelopeSchema } from '../../http/schemas.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import { mfaEnrollmentSchema } from '../factors/enrollment-routes.js';
import { mfaChallengeSchema } from '../factors/routes.js';
import { refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import { publicUser } from '../users/public-user.js';
import { login, register } from './service.js';

interface RegisterBody {
  email: string;
  password: string;
  name?: string | null;
  locale?: string | null;
}

interface LoginBody {
  email?: string;
  username?: string;
  password?: string;
  grant_type?: string;
}

const loginJsonSchema = {
  type: 'object',
  required: ['email', 'password'],
  additionalProperties: false,
  properties: { email: { type: 'string', maxLength: 254 }, password: passwordProperty },
} as const;

const loginFormSchema = {
  type: 'object',
  required: ['username', 'password'],
  properties: {
    grant_type: { type: 'string', description: 'Must be "password" when present' },
    username: { type: 'string', maxLength: 254, description: 'The email address' },
    password: passwordProperty,
    scope: { type: 'string' },
    client_id: { type: 'string' },
    client_secret: { type: 'string' },
  },
} as const;

/** Register and login: the routes that need no access token. GET/PATCH /auth/me are the users room's. */
export async function authRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);

  app.post<{ Body: RegisterBody }>(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        body: {
          type: 'object',
          required: ['email', 'password'],
          additionalProperties: false,
          properties: { email: emailProperty, password: passwordProperty, name: nameProperty, locale: localeProperty },
        },
        response: { 201: userEnvelopeSchema, ...problems(409, 413, 415, 422, 429, 503) },
      },
      // Emails are trimmed before the format check, so " ada@example.com " registers as login accepts it.
      preValidation: async (request) => {
        const body = request.body as { email?: unknown } | null;
        if (body && typeof body === 'object' && typeof body.email === 'string') body.email = body.email.trim();
      },
    },
    async (request, reply) => {
      const user = unwrap(await register(ctx, request.body, requestMeta(request)));
      return reply.code(201).send({ user: publicUser(user) });
    },
  );

  app.post<{ Body: LoginBody }>(
    '/auth/login',
    {
      config: { oauth: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in with email and password (JSON, or the OAuth2 password form)',
        description:
          'JSON `{email, password}`, or `application/x-www-form-urlencoded` `username`, `password` and optional ' +
          '`grant_type=password` (the OAuth2 password flow used by the Authorize button). Send `X-Auth-Mode: cookie` ' +
          'to receive the refresh token in an HttpOnly cookie instead of the body. When the account has a second factor, ' +
          'the JSON login answers `{mfa_required: true, mfa_token, factors, expires_in}` instead of tokens: send the ' +
          'mfa_token with a code to POST /auth/mfa/verify. The form answers 400 `MFA_REQUIRED` (`invalid_grant`) for such accounts. ' +
          'A user of a MFA_REQUIRED_ROLES role without a factor gets `{mfa_enrollment_required: true, mfa_token, expires_in}`: ' +
          'enrol with POST /auth/mfa/enroll/* (the form answers 400 `MFA_ENROLLMENT_REQUIRED`).',
        body: {
          content: {
            'application/json': { schema: loginJsonSchema },
            'application/x-www-form-urlencoded': { schema: loginFormSchema },
          },
        },
        response: {
          200: { type: 'object', description: 'Tokens, or a second factor is required', anyOf: [tokenResponseSchema, mfaChallengeSchema, mfaEnrollmentSchema] },
          ...problems(400, 403, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { email, password, form } = unwrap(loginFields(request), true);
      const result = unwrap(await login(ctx, email, password, requestMeta(request), { challenge: !form }), true);
      if (result.kind !== 'signed_in') {
        // No session yet, so no token and no cookie: only the challenge (Cache-Control: no-store is the route's).
        return reply.header('pragma', 'no-cache').code(200).send(result.challenge);
      }
      return sendTokens(ctx, refreshPath, request, reply, result.tokens, wantsCookieMode(request));
    },
  );
}

/** A login body without a body: as an empty JSON object would be answered. */
const NO_LOGIN_BODY = invalid({ field: 'email', message: 'Email is required.' }, { field: 'password', message: 'Password is required.' });

/** Reads email and password from either body shape; the form (`form: true`) is the OAuth2 password grant. */
function loginFields(request: FastifyRequest<{ Body: LoginBody }>): Outcome<{ email: string; password: string; form: boolean }> {
  const body = request.body;
  // Without a Content-Type Fastify neither parses nor validates a body (the schema is chosen by
  // media type): the request is answered as an empty JSON object would be.
  if (body === undefined || body === null || typeof body !== 'object') return NO_LOGIN_BODY;
  // The parsed media type: lower-cased, parameters dropped (the same Fastify chose the parser by).
  if (request.mediaType === 'application/x-www-form-urlencoded') {
    if (body.grant_type !== undefined && body.grant_type !== 'password') {
      return failure('UNSUPPORTED_GRANT_TYPE', 'Only grant_type=password is supported here.');
    }
    return success({ email: body.username ?? '', password: body.password ?? '', form: true });
  }
  return success({ email: body.email ?? '', password: body.password ?? '', form: false });
}
