import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { acceptEmptyJsonBody } from '../../http/empty-json-body.js';
import { refuse, unwrap } from '../../http/failures.js';
import { bearerToken, requestMeta } from '../../http/request.js';
import { bearerSecurity, passwordProperty, problems, tokenResponseSchema } from '../../http/schemas.js';
import { failure, type Failure } from '../../outcome.js';
import { changePassword } from './change-password.js';
import { authenticateRequest } from './guard.js';
import { listSessions, logout, logoutAll, logoutWithRefreshToken, refreshSession, revokeOwnSession } from './service.js';
import { checkCsrf, clearAuthCookies, CSRF_HEADER, issueCsrfToken, refreshCookie, refreshCookiePath, sendTokens, wantsCookieMode } from './transport.js';

interface RefreshBody {
  refresh_token?: string;
  grant_type?: string;
}

/** A session as its owner (or an admin) sees it. */
export const sessionSchema = {
  type: 'object',
  required: ['id', 'created_at', 'last_used_at', 'expires_at', 'user_agent', 'ip', 'current'],
  properties: {
    id: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: { type: 'string', format: 'date-time' },
    expires_at: { type: 'string', format: 'date-time' },
    user_agent: { type: ['string', 'null'] },
    ip: { type: ['string', 'null'] },
    current: { type: 'boolean' },
  },
} as const;

const cookieSecurity: Array<Record<string, string[]>> = [{ RefreshCookie: [] }];

/** Refresh with the body token (bearer mode) or the cookie (cookie mode, CSRF-checked). */
function refreshTokenFrom(
  ctx: LatchkeyContext,
  request: FastifyRequest<{ Body: RefreshBody | null | undefined }>,
): { token: string; viaCookie: boolean } {
  const fromBody = request.body?.refresh_token;
  if (fromBody) return { token: fromBody, viaCookie: false };
  const fromCookie = refreshCookie(request);
  if (fromCookie) {
    unwrap(checkCsrf(ctx, request), true);
    return { token: fromCookie, viaCookie: true };
  }
  return refuse(failure('INVALID_REFRESH_TOKEN', 'Send {"refresh_token": ...} or the refresh cookie.'), 'invalid_request');
}

/**
 * Refresh, the CSRF token and logout: no access token needed (logout takes one when it is
 * valid). Routes of a signed-in caller are in `ownSessionRoutes`.
 */
export async function sessionRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);

  // `Content-Type: application/json` with no body, as browser code sends it: no body, not a 400.
  acceptEmptyJsonBody(app);

  app.post<{ Body: RefreshBody | null | undefined }>(
    '/auth/refresh',
    {
      config: { oauth: true },
      schema: {
        tags: ['sessions'],
        summary: 'Exchange a refresh token for a new token pair (rotation)',
        description:
          'Bearer mode: `{refresh_token}` in a JSON body (or the OAuth2 form `grant_type=refresh_token&refresh_token=...`). ' +
          'Cookie mode: no body (or `{}`), the `lk_refresh` cookie plus `X-CSRF-Token`; the answer sets a new cookie ' +
          'and carries `csrf_token` instead of `refresh_token`. A token spent less than REFRESH_GRACE ago is answered ' +
          'with a new token of the same session; one spent earlier revokes the session (401 REFRESH_TOKEN_REUSED).',
        security: [{}, ...cookieSecurity],
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            // Generous on purpose: an access token (a long JWT) sent here must get 401, not 422.
            refresh_token: { type: 'string', minLength: 1, maxLength: 8192 },
            grant_type: { type: 'string', maxLength: 64, description: 'Must be "refresh_token" when present' },
          },
        },
        response: { 200: tokenResponseSchema, ...problems(400, 401, 403, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      if (bearerToken(request) && !request.body?.refresh_token && !refreshCookie(request)) {
        // An access token is not a refresh token: say so instead of a confusing "missing" error.
        refuse(failure('INVALID_REFRESH_TOKEN', 'An access token cannot be used to refresh.'), true);
      }
      const grantType = request.body?.grant_type;
      if (grantType !== undefined && grantType !== 'refresh_token') {
        refuse(failure('UNSUPPORTED_GRANT_TYPE', 'Only grant_type=refresh_token is supported here.'), true);
      }
      const { token, viaCookie } = refreshTokenFrom(ctx, request);
      const outcome = await refreshSession(ctx, token, requestMeta(request));
      // A dead cookie is useless to the browser: drop it so that the SDK sees "logged out".
      if (!outcome.ok && viaCookie) clearAuthCookies(ctx, refreshPath, reply);
      const tokens = unwrap(outcome, true);
      return sendTokens(ctx, refreshPath, request, reply, tokens, viaCookie || wantsCookieMode(request), { keepCsrf: viaCookie });
    },
  );

  app.get(
    '/auth/csrf',
    {
      schema: {
        tags: ['sessions'],
        summary: 'The CSRF token for cookie mode',
        description:
          'Returns the value to send as `X-CSRF-Token` with cookie-authenticated requests (refresh, logout) and ' +
          'sets the `lk_csrf` cookie: the current one when present, else a new one. For an SDK that lost the ' +
          '`csrf_token` of login/refresh (page reload) and cannot read the cookie (another origin).',
        response: {
          200: { type: 'object', required: ['csrf_token'], properties: { csrf_token: { type: 'string' } } },
        },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return { csrf_token: issueCsrfToken(ctx, reply, request) };
    },
  );

  app.post<{ Body: { refresh_token?: string } | null | undefined }>(
    '/auth/logout',
    {
      schema: {
        tags: ['sessions'],
        summary: 'End the current session',
        description:
          'Ends the session of the access token. Without a valid access token (e.g. it has expired), the session ' +
          'of a refresh token: `{refresh_token}` in the body, or the `lk_refresh` cookie plus `X-CSRF-Token`. ' +
          'Clears the cookies. An unknown or already ended refresh token still answers 204.',
        security: [...bearerSecurity, ...cookieSecurity],
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { refresh_token: { type: 'string', minLength: 1, maxLength: 8192 } },
        },
        response: { 204: { type: 'null', description: 'Logged out' }, ...problems(401, 403, 422) },
      },
    },
    async (request, reply) => {
      const meta = requestMeta(request);
      let bearerFailure: Failure | null = null;
      if (bearerToken(request)) {
        const auth = await authenticateRequest(ctx, request);
        if (auth.ok) {
          request.auth = auth.value;
          await logout(ctx, auth.value, meta);
          clearAuthCookies(ctx, refreshPath, reply);
          return reply.code(204).send();
        }
        bearerFailure = auth;
      }
      // No valid access token: a refresh token proves the session instead. After a failed bearer
      // the cookie is used only with its CSRF header, so that a plain retry-less client still
      // sees the 401 of its access token rather than a CSRF error.
      const cookie = refreshCookie(request);
      let token = request.body?.refresh_token ?? null;
      if (!token && cookie && (!bearerFailure || request.headers[CSRF_HEADER] !== undefined)) {
        unwrap(checkCsrf(ctx, request));
        token = cookie;
      }
      if (!token) refuse(bearerFailure ?? failure('UNAUTHORIZED', 'Send an access token, a refresh token or the refresh cookie.'));
      await logoutWithRefreshToken(ctx, token, meta);
      clearAuthCookies(ctx, refreshPath, reply);
      return reply.code(204).send();
    },
  );
}

/**
 * The signed-in caller's sessions and password. Registered in the signed-in scope: its
 * preHandler has set `request.auth` before these handlers run.
 */
export async function ownSessionRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);
  // As in sessionRoutes: logout-all is posted like logout, often with an empty JSON body.
  acceptEmptyJsonBody(app);

  app.post(
    '/auth/logout-all',
    {
      schema: {
        tags: ['sessions'],
        summary: 'End every session of the current user',
        security: bearerSecurity,
        response: { 204: { type: 'null', description: 'Logged out everywhere' }, ...problems(401) },
      },
    },
    async (request, reply) => {
      await logoutAll(ctx, request.auth!.user.id, requestMeta(request));
      clearAuthCookies(ctx, refreshPath, reply);
      return reply.code(204).send();
    },
  );

  app.get(
    '/auth/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'The current user’s live sessions',
        security: bearerSecurity,
        response: {
          200: { type: 'object', required: ['sessions'], properties: { sessions: { type: 'array', items: sessionSchema } } },
          ...problems(401),
        },
      },
    },
    async (request) => {
      const { user, session } = request.auth!;
      return { sessions: await listSessions(ctx, user.id, session.id) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/auth/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Revoke one of the current user’s sessions',
        security: bearerSecurity,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null', description: 'Revoked' }, ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      unwrap(await revokeOwnSession(ctx, request.auth!.user.id, request.params.id, requestMeta(request)));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { current_password: string; new_password: string } }>(
    '/auth/change-password',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Change the password; every other session is ended',
        security: bearerSecurity,
        body: {
          type: 'object',
          required: ['current_password', 'new_password'],
          additionalProperties: false,
          properties: { current_password: passwordProperty, new_password: passwordProperty },
        },
        response: { 204: { type: 'null', description: 'Changed' }, ...problems(400, 401, 409, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      unwrap(
        await changePassword(ctx, request.auth!, request.body.current_password, request.body.new_password, requestMeta(request)),
      );
      return reply.code(204).send();
    },
  );
}
