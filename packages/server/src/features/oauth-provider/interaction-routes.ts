/**
 * The provider's interaction pages (S22 "Interactions", docs/oauth-provider.md "Sign-in and
 * consent pages"): where oidc-provider sends the browser to sign in or to consent. Fastify routes,
 * HTML answers (pages/*; never a JSON problem, never a 500):
 *
 * - GET  /oauth/interaction/:uid              the sign-in page (prompt login), or the consent page
 *   (prompt consent; a first-party client is granted what it asked at once; `?login=1`: "Not
 *   you?", the sign-in page again)
 * - POST /oauth/interaction/:uid/login        email + password through the same login() as POST /auth/login
 * - POST /oauth/interaction/:uid/mfa          mfa_token + code, recovery_code or passkey (an assertion's JSON)
 * - POST /oauth/interaction/:uid/token        access_token of a passkey sign-in (the page's script
 *   signed in through /auth/passkeys/login/*): its session, if live, becomes the provider's
 * - GET  /oauth/interaction/:uid/social       where a social sign-in comes back with its exchange code
 * - POST /oauth/interaction/:uid/email        sends an email sign-in code; /email/verify checks it
 * - POST /oauth/interaction/:uid/consent      decision=allow|deny
 * - POST /oauth/interaction/:uid/abort        access_denied back to the client
 *
 * Every way in ends in finishLogin (interactions.ts). Every form carries `csrf`, bound to the
 * interaction: without it, 403 and the error page. An unknown or expired uid: 400 and the page
 * saying to go back to the app.
 */
import { createHash, createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { LatchkeyContext } from '../../context.js';
import type { ErrorCode } from '../../errors.js';
import { requestMeta } from '../../http/request.js';
import type { Failure, Outcome } from '../../outcome.js';
import { login, type LoginResult } from '../auth/service.js';
import { requestEmailSignIn, verifyEmailSignIn } from '../email/sign-in.js';
import { challengeMethods, mfaTokenUser, verifyMfaChallenge } from '../factors/service.js';
import { authenticateAccessToken } from '../sessions/authenticate.js';
import { exchangeCode, type ExchangeResult } from '../social/service.js';
import { endpointRoot } from '../wellknown/routes.js';
import { finishConsent, finishLogin, finishWithError, interactionCsrfToken, interactionCsrfValid, oauthProviderOf } from './interactions.js';
import { renderConsent } from './pages/consent.js';
import { EXPIRED_INTERACTION, FORM_EXPIRED, renderError, type ErrorView } from './pages/error.js';
import { renderSecondFactor } from './pages/second-factor.js';
import { sendPage } from './pages/send.js';
import { renderEmailCode, renderSignIn } from './pages/sign-in.js';

type Form = Record<string, string | undefined>;
type Params = { uid: string };

/** Where the forms of one interaction post, and the mount prefix of Latchkey's own routes. */
interface Paths {
  /** `<prefix>/oauth/interaction/<uid>` */
  action: string;
  /** '' standalone, `/identity` embedded there. */
  prefix: string;
}

/** What a failed sign-in says on the page (never whether an account exists). */
function failureMessage(f: Failure): string {
  const messages: Partial<Record<ErrorCode, string>> = {
    INVALID_CREDENTIALS: 'Wrong email or password.',
    ACCOUNT_DISABLED: 'This account has been disabled.',
    EMAIL_NOT_VERIFIED: 'Verify your email address first: we sent you a link.',
    RATE_LIMITED: 'Too many attempts. Wait a moment and try again.',
    INVALID_MFA_CODE: 'That code is not right. Try again with a new code.',
    INVALID_SIGN_IN_CODE: 'That code is wrong or has expired. Ask for a new one.',
    INVALID_EXCHANGE_CODE: 'The sign-in with that provider did not complete. Try again.',
    ACCOUNT_EXISTS_LINK_REQUIRED: 'An account with this email address already exists: sign in with its password or passkey.',
  };
  return messages[f.code] ?? 'The sign-in did not succeed. Try again.';
}

function failureStatus(f: Failure): number {
  if (f.code === 'RATE_LIMITED') return 429;
  if (f.code === 'ACCOUNT_DISABLED') return 403;
  return 400;
}

/** The scopes a consent page shows: the OIDC scopes and the resources' scopes still missing. */
function missingScopes(details: { prompt: { details: unknown } }): string[] {
  const d = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  return [...new Set([...(d.missingOIDCScope ?? []), ...Object.values(d.missingResourceScopes ?? {}).flat()])];
}

function text(value: unknown, max: number): string {
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/**
 * A passkey assertion as the page's script posts it (the JSON of `credential.toJSON()`), checked
 * for the shape /auth/mfa/verify's schema demands; null when it is not one.
 */
function passkeyAssertion(raw: string): AuthenticationResponseJSON | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  const v = value as { id?: unknown; rawId?: unknown; type?: unknown; response?: Record<string, unknown> } | null;
  const strings = (...xs: unknown[]) => xs.every((x) => typeof x === 'string' && x.length <= 8192);
  if (typeof v !== 'object' || v === null || v.type !== 'public-key' || !strings(v.id, v.rawId)) return null;
  const r = v.response;
  if (typeof r !== 'object' || r === null || !strings(r.clientDataJSON, r.authenticatorData, r.signature)) return null;
  if (r.userHandle !== undefined && r.userHandle !== null && !strings(r.userHandle)) return null;
  return value as AuthenticationResponseJSON;
}

export async function interactionRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const brand = ctx.config.oauthBranding;
  const form = { config: { oauth: true } }; // the forms are application/x-www-form-urlencoded
  const hide = { schema: { hide: true } };

  const errorPage = (reply: FastifyReply, status: number, view: ErrorView) => sendPage(reply, brand, status, (page) => renderError(page, view));

  function paths(request: FastifyRequest<{ Params: Params }>): Paths {
    // The path this page was served at, up to the interaction: the forms post below it.
    const path = request.url.split('?')[0]!;
    const prefix = path.slice(0, path.indexOf('/oauth/interaction/'));
    return { prefix, action: `${prefix}/oauth/interaction/${encodeURIComponent(request.params.uid)}` };
  }

  /** The interaction, or an answered 400 page when it is unknown, expired or not this browser's. */
  async function load(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const { oauth } = oauthProviderOf(request);
    const provider = await oauth.current();
    try {
      const details = await provider.interactionDetails(request.raw, reply.raw);
      if (details.uid !== request.params.uid) throw new Error('uid mismatch');
      return { details, keys: oauth.cookieKeys, csrf: interactionCsrfToken(oauth.cookieKeys, request.params.uid), paths: paths(request) };
    } catch {
      errorPage(reply, 400, EXPIRED_INTERACTION);
      return null;
    }
  }
  type Loaded = NonNullable<Awaited<ReturnType<typeof load>>>;

  async function clientOf(clientId: unknown) {
    const client = typeof clientId === 'string' ? await ctx.store.findOAuthClient(clientId) : null;
    return {
      name: client?.name ?? 'the app',
      firstParty: client?.firstParty ?? false,
      logoUri: typeof client?.metadata.logo_uri === 'string' ? client.metadata.logo_uri : null,
      clientUri: typeof client?.metadata.client_uri === 'string' ? client.metadata.client_uri : null,
    };
  }

  /**
   * The PKCE verifier of this interaction's social sign-in: secret (keyed by the provider's cookie
   * key), the same at the start and at the return, and another for every interaction, so an
   * exchange code obtained elsewhere (another browser's, an attacker's) cannot be spent here.
   */
  function socialVerifier(keys: readonly Buffer[], uid: string): string {
    return createHmac('sha256', keys[0]!).update(`interaction-social:${uid}`).digest('base64url');
  }

  async function signInPage(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, loaded: Loaded, status: number, extra: { email?: string; error?: string; notice?: string } = {}) {
    const client = await clientOf(loaded.details.params.client_id);
    const { action, prefix } = loaded.paths;
    const back = `${endpointRoot(ctx.config.tokens.issuer, prefix)}/oauth/interaction/${encodeURIComponent(request.params.uid)}/social`;
    const challenge = createHash('sha256').update(socialVerifier(loaded.keys, request.params.uid)).digest('base64url');
    const social = Object.values(ctx.config.social.providers).map((p) => ({
      name: p.name,
      href: `${prefix}/auth/oauth/${encodeURIComponent(p.id)}/start?${new URLSearchParams({ redirect_to: back, code_challenge: challenge, code_challenge_method: 'S256' })}`,
    }));
    return sendPage(reply, brand, status, (page) =>
      renderSignIn(page, {
        action,
        apiPrefix: prefix,
        csrf: loaded.csrf,
        clientName: client.name,
        email: extra.email ?? null,
        error: extra.error ?? null,
        notice: extra.notice ?? null,
        passkeys: true,
        social,
        emailSignIn: ctx.config.mail.emailSignIn,
      }),
    );
  }

  function secondFactorPage(reply: FastifyReply, loaded: Loaded, status: number, mfaToken: string, factors: readonly string[], error?: string) {
    return sendPage(reply, brand, status, (page) =>
      renderSecondFactor(page, { action: loaded.paths.action, apiPrefix: loaded.paths.prefix, csrf: loaded.csrf, mfaToken, factors, error: error ?? null }),
    );
  }

  /** Checks the form's CSRF token; answers 403 when it is wrong. */
  function csrfOk(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, loaded: Loaded): boolean {
    const body = (request.body ?? {}) as Form;
    if (interactionCsrfValid(loaded.keys, request.params.uid, body.csrf)) return true;
    errorPage(reply, 403, FORM_EXPIRED);
    return false;
  }

  /** A sign-in step may run while oidc-provider asks for a login, or at consent ("Not you?": another account). */
  function signingIn(loaded: Loaded): boolean {
    return loaded.details.prompt.name === 'login' || loaded.details.prompt.name === 'consent';
  }

  /** Answers an unexpected failure with the error page, never a 500 problem. */
  async function guarded(request: FastifyRequest, reply: FastifyReply, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (err) {
      request.log.error({ err }, 'oauth interaction failed');
      if (!reply.sent && !reply.raw.headersSent) errorPage(reply, 400, EXPIRED_INTERACTION);
    }
  }

  /** The session a sign-in created: its amr and auth time go to the provider session. */
  async function finishSignedIn(request: FastifyRequest, reply: FastifyReply, userId: string, sessionId: string): Promise<void> {
    const found = await ctx.store.getSessionWithUser(sessionId);
    await finishLogin(request, reply, { userId, sessionId, amr: found?.session.amr ?? ['pwd'], authTime: found?.session.authTime ?? ctx.clock() });
  }

  /** What follows a first factor (password, social, email code): the provider's session, the second-factor step, or the failure on the sign-in page. */
  async function afterFirstFactor(
    request: FastifyRequest<{ Params: Params }>,
    reply: FastifyReply,
    loaded: Loaded,
    result: Outcome<LoginResult | ExchangeResult>,
    email: string,
  ): Promise<unknown> {
    if (!result.ok) {
      if (result.retryAfter !== undefined) void reply.header('retry-after', String(result.retryAfter));
      return signInPage(request, reply, loaded, failureStatus(result), { email, error: failureMessage(result) });
    }
    const value = result.value;
    if (value.kind === 'mfa_required') return secondFactorPage(reply, loaded, 200, value.challenge.mfa_token, value.challenge.factors);
    if (value.kind === 'mfa_enrollment_required') {
      return errorPage(reply, 403, {
        title: 'Add a second factor first',
        message: 'Your account must have a second factor before it can sign in here. Sign in to your account, add one, then go back to the app and try again.',
      });
    }
    if (value.kind === 'linked') return errorPage(reply, 400, EXPIRED_INTERACTION);
    return finishSignedIn(request, reply, value.user.id, value.tokens.session_id);
  }

  app.get<{ Params: Params; Querystring: { login?: string } }>('/oauth/interaction/:uid', hide, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded) return;
      const { details } = loaded;
      if (details.prompt.name === 'login') return signInPage(request, reply, loaded, 200);
      if (details.prompt.name === 'consent') {
        if (request.query.login === '1') return signInPage(request, reply, loaded, 200, { notice: 'Sign in with the account you want to use.' });
        const client = await clientOf(details.params.client_id);
        const scopes = missingScopes(details);
        // First-party clients skip the page: what they asked is granted (S22).
        if (client.firstParty) return finishConsent(request, reply, { scopes });
        const user = details.session?.accountId ? await ctx.store.findUserById(details.session.accountId) : null;
        if (!user) return signInPage(request, reply, loaded, 200);
        return sendPage(reply, brand, 200, (page) =>
          renderConsent(page, {
            action: loaded.paths.action,
            csrf: loaded.csrf,
            client: { name: client.name, logoUri: client.logoUri, clientUri: client.clientUri },
            scopes,
            userEmail: user.email,
            switchAccountHref: `${loaded.paths.action}?login=1`,
          }),
        );
      }
      return errorPage(reply, 400, EXPIRED_INTERACTION);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/login', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      if (!signingIn(loaded)) return errorPage(reply, 400, EXPIRED_INTERACTION);
      const email = text(request.body?.email, 320);
      const password = text(request.body?.password, 1024);
      if (email === '' || password === '') return signInPage(request, reply, loaded, 400, { email, error: 'Enter your email and password.' });
      return afterFirstFactor(request, reply, loaded, await login(ctx, email, password, requestMeta(request), { challenge: true }), email);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/mfa', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      if (!signingIn(loaded)) return errorPage(reply, 400, EXPIRED_INTERACTION);
      const body = request.body ?? {};
      const mfaToken = text(body.mfa_token, 256);
      const code = text(body.code, 64) || undefined;
      const recovery = code === undefined ? text(body.recovery_code, 64) || undefined : undefined;
      const passkeyRaw = code === undefined && recovery === undefined ? text(body.passkey, 16_384) : '';
      const passkey = passkeyRaw ? passkeyAssertion(passkeyRaw) : null;
      // The factors to offer again after a failure: the account's (the token is not spent by a wrong answer).
      const factorsOf = async (): Promise<string[]> => {
        const user = await mfaTokenUser(ctx, mfaToken);
        return user.ok ? await challengeMethods(ctx, user.value) : [];
      };
      if (code === undefined && recovery === undefined && passkey === null) {
        const factors = await factorsOf();
        if (factors.length === 0) return errorPage(reply, 400, EXPIRED_INTERACTION);
        return secondFactorPage(reply, loaded, 400, mfaToken, factors, 'Enter a code, or use your passkey.');
      }
      const result = await verifyMfaChallenge(ctx, mfaToken, passkey ? { passkey } : { code, recovery_code: recovery }, requestMeta(request));
      if (!result.ok) {
        if (result.code === 'MFA_TOKEN_INVALID') return errorPage(reply, 400, EXPIRED_INTERACTION);
        if (result.retryAfter !== undefined) void reply.header('retry-after', String(result.retryAfter));
        const message = passkey ? 'The passkey did not work. Try again, or enter a code.' : failureMessage(result);
        return secondFactorPage(reply, loaded, failureStatus(result), mfaToken, await factorsOf(), message);
      }
      return finishSignedIn(request, reply, result.value.user.id, result.value.tokens.session_id);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/token', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      if (!signingIn(loaded)) return errorPage(reply, 400, EXPIRED_INTERACTION);
      // The access token of the session the page's passkey sign-in just made: valid, and its session live.
      const auth = await authenticateAccessToken(ctx, text(request.body?.access_token, 8192) || null, request.log);
      if (!auth.ok) return signInPage(request, reply, loaded, 400, { error: 'The passkey sign-in did not complete. Try again.' });
      return finishLogin(request, reply, {
        userId: auth.value.user.id,
        sessionId: auth.value.session.id,
        amr: auth.value.session.amr,
        authTime: auth.value.session.authTime,
      });
    });
  });

  app.get<{ Params: Params; Querystring: { code?: string; error?: string } }>('/oauth/interaction/:uid/social', hide, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded) return;
      if (!signingIn(loaded)) return errorPage(reply, 400, EXPIRED_INTERACTION);
      const code = text(request.query.code, 256);
      if (code === '') return signInPage(request, reply, loaded, 400, { error: 'The sign-in with that provider did not complete. Try again, or use another way.' });
      // Spent with this interaction's verifier: a code of a sign-in not started from this page (another
      // challenge, or none) fails.
      const result = await exchangeCode(ctx, code, socialVerifier(loaded.keys, request.params.uid), requestMeta(request), { requireChallenge: true });
      return afterFirstFactor(request, reply, loaded, result, '');
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/email', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      if (!signingIn(loaded) || !ctx.config.mail.emailSignIn) return errorPage(reply, 400, EXPIRED_INTERACTION);
      const email = text(request.body?.email, 320).trim();
      if (!/^[^\s@]+@[^\s@]+$/.test(email)) return signInPage(request, reply, loaded, 400, { email, error: 'Enter your email address to get a sign-in code.' });
      const sent = await requestEmailSignIn(ctx, email, null, requestMeta(request));
      if (!sent.ok) return signInPage(request, reply, loaded, failureStatus(sent), { email, error: failureMessage(sent) });
      return sendPage(reply, brand, 200, (page) => renderEmailCode(page, { action: loaded.paths.action, csrf: loaded.csrf, email }));
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/email/verify', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      if (!signingIn(loaded) || !ctx.config.mail.emailSignIn) return errorPage(reply, 400, EXPIRED_INTERACTION);
      const email = text(request.body?.email, 320).trim();
      const code = text(request.body?.code, 64);
      const result = await verifyEmailSignIn(ctx, { email, code }, requestMeta(request));
      if (!result.ok) {
        if (result.retryAfter !== undefined) void reply.header('retry-after', String(result.retryAfter));
        return sendPage(reply, brand, failureStatus(result), (page) =>
          renderEmailCode(page, { action: loaded.paths.action, csrf: loaded.csrf, email, error: failureMessage(result) }),
        );
      }
      return afterFirstFactor(request, reply, loaded, result, email);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/consent', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      if (loaded.details.prompt.name !== 'consent') return errorPage(reply, 400, EXPIRED_INTERACTION);
      const decision = request.body?.decision;
      if (decision === 'allow') return finishConsent(request, reply, { scopes: missingScopes(loaded.details) });
      if (decision === 'deny') return finishWithError(request, reply, 'access_denied', 'The user denied the request.');
      return errorPage(reply, 400, { title: 'Choose Allow or Deny', message: 'Go back to the previous page and choose Allow or Deny.' });
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/abort', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded)) return;
      return finishWithError(request, reply, 'access_denied', 'The user cancelled the sign-in.');
    });
  });
}
