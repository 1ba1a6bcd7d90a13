import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { failureToError, unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { bearerSecurity, problems, tokenResponseSchema } from '../../http/schemas.js';
import { failure } from '../../outcome.js';
import { newOpaqueToken } from '../../lib/ids.js';
import { mfaEnrollmentSchema } from '../factors/enrollment-routes.js';
import { mfaChallengeSchema } from '../factors/routes.js';
import { refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import { endpointRoot } from '../wellknown/routes.js';
import { GitHubProvider } from './github.js';
import { OidcProvider } from './oidc.js';
import type { SocialProvider } from './provider.js';
import {
  BASE64URL_43,
  STATE_TTL_MS,
  exchangeCode,
  handleCallback,
  issueLinkUrl,
  listUserIdentities,
  startSignIn,
  unlinkIdentity,
} from './service.js';

/** The HttpOnly cookie that binds a sign-in's state to the browser that started it. */
export const OAUTH_COOKIE = 'lk_oauth';

const challengeProperty = {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{43}$',
  description: "The app's PKCE S256 code_challenge (base64url of SHA-256 of its code_verifier); the exchange then requires the code_verifier",
} as const;
const redirectProperty = { type: 'string', minLength: 1, maxLength: 2048, description: 'Where to send the browser back: must be allowed by REDIRECT_ALLOWED_URLS' } as const;
const providerParams = {
  type: 'object',
  required: ['provider'],
  properties: { provider: { type: 'string', maxLength: 64, description: 'A configured provider id (SOCIAL_PROVIDERS)' } },
} as const;

export const identitySchema = {
  type: 'object',
  required: ['id', 'provider', 'provider_name', 'email', 'email_verified', 'created_at', 'last_used_at'],
  properties: {
    id: { type: 'string' },
    provider: { type: 'string' },
    provider_name: { type: 'string' },
    email: { type: ['string', 'null'], description: 'The email the provider last gave' },
    email_verified: { type: 'boolean', description: 'Whether the provider said it verified that email' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

const identityListSchema = {
  type: 'object',
  required: ['identities', 'has_password'],
  properties: {
    identities: { type: 'array', items: identitySchema },
    has_password: { type: 'boolean', description: 'False for an account made by a social sign-in that has set no password (it can, through the reset flow)' },
  },
} as const;

const linkedSchema = {
  type: 'object',
  required: ['linked', 'identity'],
  properties: { linked: { type: 'boolean', enum: [true] }, identity: identitySchema },
} as const;

const redirectResponse = (description: string) => ({
  type: 'null',
  description,
  headers: { location: { type: 'string', description: 'The URL the browser goes to' } },
});

/** The configured providers, built once per mount; their discovery happens at first use. */
function buildProviders(ctx: LatchkeyContext): Map<string, SocialProvider> {
  const providers = new Map<string, SocialProvider>();
  for (const config of Object.values(ctx.config.social.providers)) {
    providers.set(config.id, config.type === 'github' ? new GitHubProvider(config, ctx.log) : new OidcProvider(config, ctx.log));
  }
  return providers;
}

function providerOf(providers: Map<string, SocialProvider>, id: string): SocialProvider {
  const provider = providers.get(id);
  if (!provider) throw failureToError(failure('NOT_FOUND', 'No sign-in provider has this id (GET /auth/oauth/providers lists them).'));
  return provider;
}

interface Endpoints {
  root: string;
  callbackUri(provider: string): string;
  startUrl(provider: string): string;
}

function endpoints(ctx: LatchkeyContext, mountPrefix: string): Endpoints {
  const root = endpointRoot(ctx.config.tokens.issuer, mountPrefix);
  return {
    root,
    callbackUri: (provider) => `${root}/auth/oauth/${provider}/callback`,
    startUrl: (provider) => `${root}/auth/oauth/${provider}/start`,
  };
}

/**
 * The browser's sign-in cookie: HttpOnly, SameSite=Lax (the provider's redirect to the callback
 * is a cross-site top-level GET, which Lax cookies accompany and Strict ones do not), scoped to
 * the /auth/oauth routes. An existing value is kept, so sign-ins in two tabs both complete.
 */
function browserValue(request: FastifyRequest, reply: FastifyReply, ctx: LatchkeyContext, path: string): string {
  const existing = request.cookies[OAUTH_COOKIE];
  const value = existing && BASE64URL_43.test(existing) ? existing : newOpaqueToken();
  void reply.setCookie(OAUTH_COOKIE, value, {
    path,
    httpOnly: true,
    secure: ctx.config.sessions.cookieSecure,
    sameSite: 'lax',
    maxAge: Math.floor(STATE_TTL_MS / 1000),
  });
  return value;
}

/** The public routes of social sign-in: providers, start, callback, exchange. */
export async function socialRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const providers = buildProviders(ctx);
  const at = endpoints(ctx, opts.mountPrefix);
  const cookiePath = `${opts.mountPrefix.replace(/\/+$/, '')}/auth/oauth`;
  const refreshPath = refreshCookiePath(opts.mountPrefix);
  const list = { providers: [...providers.values()].map((p) => ({ id: p.config.id, name: p.config.name })) };

  app.get(
    '/auth/oauth/providers',
    {
      schema: {
        tags: ['social'],
        summary: 'The configured sign-in providers',
        response: {
          200: {
            type: 'object',
            required: ['providers'],
            properties: {
              providers: {
                type: 'array',
                items: { type: 'object', required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } },
              },
            },
          },
          ...problems(429),
        },
      },
    },
    async () => list,
  );

  app.get<{ Params: { provider: string }; Querystring: { redirect_to: string; code_challenge?: string; code_challenge_method?: string; link_ticket?: string } }>(
    '/auth/oauth/:provider/start',
    {
      schema: {
        tags: ['social'],
        summary: 'Start a sign-in with a provider (browser navigation)',
        description:
          'Redirects (302) to the provider with state, nonce (OpenID Connect) and PKCE S256, after setting the HttpOnly `lk_oauth` cookie ' +
          'that binds the sign-in to this browser. The callback later redirects to `redirect_to` with `?code=` (POST /auth/oauth/exchange) or ' +
          '`?error=CODE&error_description=...`. `link_ticket` comes from POST /auth/identities/{provider}/link.',
        params: providerParams,
        querystring: {
          type: 'object',
          required: ['redirect_to'],
          properties: {
            redirect_to: redirectProperty,
            code_challenge: challengeProperty,
            code_challenge_method: { type: 'string', enum: ['S256'] },
            link_ticket: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
          },
        },
        response: { 302: redirectResponse('To the provider'), ...problems(400, 404, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const provider = providerOf(providers, request.params.provider);
      const browser = browserValue(request, reply, ctx, cookiePath);
      const { url } = unwrap(
        await startSignIn(ctx, provider, {
          redirectTo: request.query.redirect_to,
          codeChallenge: request.query.code_challenge ?? null,
          linkTicket: request.query.link_ticket ?? null,
          browser,
          callbackUri: at.callbackUri(provider.config.id),
          alsoAllowed: ctx.config.oauth.provider ? [`${at.root}/oauth/interaction/`] : [],
        }),
      );
      return reply.redirect(url, 302);
    },
  );

  app.get<{ Params: { provider: string } }>(
    '/auth/oauth/:provider/callback',
    {
      schema: {
        tags: ['social'],
        summary: "The provider's redirect back (register this URL at the provider)",
        description:
          'Checks the state (single use, bound to the browser by its cookie), exchanges the code, verifies the ID token or reads the GitHub ' +
          'profile, then redirects (302) to the sign-in\'s `redirect_to` with `?code=` or `?error=`. A missing, used, expired or foreign state ' +
          'answers 400 `INVALID_OAUTH_STATE` without a redirect. No token is ever put in a URL.',
        params: providerParams,
        querystring: {
          type: 'object',
          properties: {
            code: { type: 'string', maxLength: 2048 },
            state: { type: 'string', maxLength: 256 },
            error: { type: 'string', maxLength: 256 },
            error_description: { type: 'string', maxLength: 2048 },
          },
        },
        response: { 302: redirectResponse('To redirect_to, with code or error'), ...problems(400, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      const provider = providerOf(providers, request.params.provider);
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      const callbackUri = at.callbackUri(provider.config.id);
      const cookie = request.cookies[OAUTH_COOKIE];
      const target = unwrap(
        await handleCallback(
          ctx,
          provider,
          { url: new URL(callbackUri + query), browser: cookie && BASE64URL_43.test(cookie) ? cookie : null, callbackUri },
          requestMeta(request),
        ),
      );
      return reply.header('referrer-policy', 'no-referrer').redirect(target, 302);
    },
  );

  app.post<{ Body: { code: string; code_verifier?: string } }>(
    '/auth/oauth/exchange',
    {
      schema: {
        tags: ['social'],
        summary: 'Exchange the code of a social sign-in for tokens',
        description:
          'The code from the redirect (single use, 2 minutes) and, when /start was given a code_challenge, its code_verifier. Answers as ' +
          'POST /auth/login does: a TokenResponse (`X-Auth-Mode: cookie` for cookie mode), or `mfa_required` when the account has a second ' +
          'factor; after a link, `{linked: true, identity}`. The session\'s `amr` is `["fed"]`.',
        body: {
          type: 'object',
          required: ['code'],
          additionalProperties: false,
          properties: {
            code: { type: 'string', minLength: 1, maxLength: 256 },
            code_verifier: { type: 'string', minLength: 43, maxLength: 128, pattern: '^[A-Za-z0-9._~-]+$' },
          },
        },
        response: {
          200: { type: 'object', description: 'Tokens, a second factor is required, or the identity linked', anyOf: [tokenResponseSchema, mfaChallengeSchema, mfaEnrollmentSchema, linkedSchema] },
          ...problems(400, 403, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const result = unwrap(await exchangeCode(ctx, request.body.code, request.body.code_verifier ?? null, requestMeta(request)));
      if (result.kind === 'linked') return reply.header('cache-control', 'no-store').send({ linked: true, identity: result.identity });
      // A second factor (or, under MFA_REQUIRED_ROLES, its enrolment) is due: as POST /auth/login answers.
      if (result.kind === 'mfa_required' || result.kind === 'mfa_enrollment_required') return reply.header('pragma', 'no-cache').code(200).send(result.challenge);
      return sendTokens(ctx, refreshPath, request, reply, result.tokens, wantsCookieMode(request));
    },
  );
}

/** The signed-in user's identities: list, link, unlink (in the signed-in scope). */
export async function identityRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  const at = endpoints(ctx, opts.mountPrefix);
  const configured = ctx.config.social.providers;

  app.get(
    '/auth/identities',
    {
      schema: {
        tags: ['social'],
        summary: 'Your linked sign-in providers',
        security: bearerSecurity,
        response: { 200: identityListSchema, ...problems(401, 429, 503) },
      },
    },
    async (request) => {
      const user = await ctx.store.findUserById(request.auth!.user.id);
      if (!user) throw failureToError(failure('UNAUTHORIZED', 'The account no longer exists.'));
      return listUserIdentities(ctx, user);
    },
  );

  app.post<{ Params: { provider: string }; Body: { redirect_to: string; code_challenge?: string } }>(
    '/auth/identities/:provider/link',
    {
      schema: {
        tags: ['social'],
        summary: 'Link a provider to your account: answers the URL to navigate to',
        description:
          'Answers `{url}`: the /start URL with a single-use link ticket (2 minutes). Navigate the browser there; the callback links the ' +
          "provider's account to yours (409 `IDENTITY_ALREADY_LINKED` when it is another user's) and redirects to `redirect_to` with a code, " +
          'whose exchange answers `{linked: true, identity}`.',
        security: bearerSecurity,
        params: providerParams,
        body: {
          type: 'object',
          required: ['redirect_to'],
          additionalProperties: false,
          properties: { redirect_to: redirectProperty, code_challenge: challengeProperty },
        },
        response: {
          200: { type: 'object', required: ['url'], properties: { url: { type: 'string' } } },
          ...problems(400, 401, 404, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.provider;
      if (!Object.hasOwn(configured, id)) throw failureToError(failure('NOT_FOUND', 'No sign-in provider has this id (GET /auth/oauth/providers lists them).'));
      const answer = unwrap(
        await issueLinkUrl(ctx, request.auth!.user.id, at.startUrl(id), {
          redirectTo: request.body.redirect_to,
          codeChallenge: request.body.code_challenge ?? null,
        }),
      );
      return reply.header('cache-control', 'no-store').send(answer);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/auth/identities/:id',
    {
      schema: {
        tags: ['social'],
        summary: 'Unlink a provider from your account',
        description: 'Refused with 409 `LAST_SIGN_IN_METHOD` while it is the only way in (no password, no passkey, no other identity).',
        security: bearerSecurity,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null', description: 'Unlinked' }, ...problems(401, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const user = await ctx.store.findUserById(request.auth!.user.id);
      if (!user) throw failureToError(failure('UNAUTHORIZED', 'The account no longer exists.'));
      unwrap(await unlinkIdentity(ctx, user, request.params.id, requestMeta(request), { force: false }));
      return reply.code(204).send();
    },
  );
}

/** An admin's view of a user's identities (in the admin scope). */
export async function adminIdentityRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const userOf = async (id: string) => {
    const user = await ctx.store.findUserById(id);
    if (!user) throw failureToError(failure('NOT_FOUND', 'No user has this id.'));
    return user;
  };

  app.get<{ Params: { id: string } }>(
    '/admin/users/:id/identities',
    {
      schema: {
        tags: ['admin'],
        summary: "A user's linked sign-in providers",
        security: bearerSecurity,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 200: identityListSchema, ...problems(401, 403, 404, 429, 503) },
      },
    },
    async (request) => listUserIdentities(ctx, await userOf(request.params.id)),
  );

  app.delete<{ Params: { id: string; identityId: string } }>(
    '/admin/users/:id/identities/:identityId',
    {
      schema: {
        tags: ['admin'],
        summary: "Unlink one of a user's providers",
        description: 'Allowed even when it is the last way in: the user can still set a password through the reset flow.',
        security: bearerSecurity,
        params: {
          type: 'object',
          required: ['id', 'identityId'],
          properties: { id: { type: 'string', maxLength: 64 }, identityId: { type: 'string', maxLength: 64 } },
        },
        response: { 204: { type: 'null', description: 'Unlinked' }, ...problems(401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const user = await userOf(request.params.id);
      unwrap(await unlinkIdentity(ctx, user, request.params.identityId, requestMeta(request), { force: true, by: request.auth!.user.id }));
      return reply.code(204).send();
    },
  );
}
