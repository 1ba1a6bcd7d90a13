import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { authenticate, bearerToken, requestMeta } from '../../http/auth-guard.js';
import { unwrap } from '../../http/error-handler.js';
import { bearerSecurity, passwordProperty, problems, tokenResponseSchema } from '../../http/schemas.js';
import { hashToken } from '../../lib/ids.js';
import { recordEvent } from '../events/service.js';
import { changePassword, listSessions, logoutAll, revokeOwnSession } from './account.js';
import { refreshSession } from './service.js';
import { assertCsrf, clearAuthCookies, CSRF_HEADER, issueCsrfToken, refreshCookie, refreshCookiePath, sendTokens, wantsCookieMode } from './transport.js';

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
): {
  token: string;
  viaCookie: boolean;
} {
  const fromBody = request.body?.refresh_token;
  if (fromBody) return { token: fromBody, viaCookie: false };
  const fromCookie = refreshCookie(request);
  if (fromCookie) {
    assertCsrf(ctx, request);
    return { token: fromCookie, viaCookie: true };
  }
  throw new AppError('INVALID_REFRESH_TOKEN', {
    detail: 'Send {"refresh_token": ...} or the refresh cookie.',
    oauthError: 'invalid_request',
  });
}

export async function sessionRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const refreshPath = refreshCookiePath(opts.mountPrefix);

  // Browser code often posts `Content-Type: application/json` with no body to refresh or log
  // out with the cookie. In this scope an empty JSON body counts as no body, not as a 400;
  // anything else goes to Fastify's own (prototype-poisoning-safe) parser.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') done(null, undefined);
    else jsonParser(request, text, done);
  });

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
        throw new AppError('INVALID_REFRESH_TOKEN', { detail: 'An access token cannot be used to refresh.', oauthError: 'invalid_grant' });
      }
      const grantType = request.body?.grant_type;
      if (grantType !== undefined && grantType !== 'refresh_token') {
        throw new AppError('UNSUPPORTED_GRANT_TYPE', {
          detail: 'Only grant_type=refresh_token is supported here.',
          oauthError: 'unsupported_grant_type',
        });
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
      let bearerFailure: AppError | null = null;
      if (bearerToken(request)) {
        try {
          const auth = await authenticate(ctx, request);
          await ctx.store.revokeSession(auth.user.id, auth.session.id, 'logout', ctx.clock());
          await recordEvent(ctx, auth.user.id, 'logout', meta, { session_id: auth.session.id });
          clearAuthCookies(ctx, refreshPath, reply);
          return reply.code(204).send();
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          bearerFailure = err;
        }
      }
      // No valid access token: a refresh token proves the session instead. After a failed bearer
      // the cookie is used only with its CSRF header, so that a plain retry-less client still
      // sees the 401 of its access token rather than a CSRF error.
      const cookie = refreshCookie(request);
      let token = request.body?.refresh_token ?? null;
      if (!token && cookie && (!bearerFailure || request.headers[CSRF_HEADER] !== undefined)) {
        assertCsrf(ctx, request);
        token = cookie;
      }
      if (!token) {
        throw bearerFailure ?? new AppError('UNAUTHORIZED', { detail: 'Send an access token, a refresh token or the refresh cookie.' });
      }
      const revoked = await ctx.store.revokeSessionByRefreshToken(hashToken(token), 'logout', ctx.clock());
      if (revoked) await recordEvent(ctx, revoked.userId, 'logout', meta, { session_id: revoked.sessionId });
      clearAuthCookies(ctx, refreshPath, reply);
      return reply.code(204).send();
    },
  );

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
      const auth = await authenticate(ctx, request);
      await logoutAll(ctx, auth.user.id, requestMeta(request));
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
      const auth = await authenticate(ctx, request);
      return { sessions: await listSessions(ctx, auth.user.id, auth.session.id) };
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
      const auth = await authenticate(ctx, request);
      unwrap(await revokeOwnSession(ctx, auth.user.id, request.params.id, requestMeta(request)));
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
        response: { 204: { type: 'null', description: 'Changed' }, ...problems(400, 401, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const auth = await authenticate(ctx, request);
      unwrap(
        await changePassword(ctx, auth, request.body.current_password, request.body.new_password, requestMeta(request)),
      );
      return reply.code(204).send();
    },
  );
}
