/**
 * The provider's interaction pages (S22 "Interactions"): where oidc-provider sends the browser to
 * sign in or to consent. Fastify routes, HTML answers (never a JSON problem, never a 500):
 *
 * - GET  /oauth/interaction/:uid          the sign-in form (prompt login) or the consent page
 *   (prompt consent; a first-party client is granted what it asked at once)
 * - POST /oauth/interaction/:uid/login    email + password through the same login() as POST
 *   /auth/login (backoff, rate limit, disabled, unverified); a second factor shows the next form
 * - POST /oauth/interaction/:uid/mfa      mfa_token + code (TOTP) or recovery_code
 * - POST /oauth/interaction/:uid/consent  decision=allow|deny
 * - POST /oauth/interaction/:uid/abort    access_denied back to the client
 *
 * Every form carries `csrf`, bound to the interaction (interactions.ts): without it, 403.
 * The markup here is deliberately plain: the pages room replaces it (pages/*).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import type { ErrorCode } from '../../errors.js';
import { requestMeta } from '../../http/request.js';
import type { Failure } from '../../outcome.js';
import { login } from '../auth/service.js';
import { verifyMfaChallenge } from '../factors/service.js';
import { finishConsent, finishLogin, finishWithError, interactionCsrfToken, interactionCsrfValid, oauthProviderOf } from './interactions.js';
import { escapeHtml } from './page-hooks.js';

type Form = Record<string, string | undefined>;
type Params = { uid: string };

const EXPIRED = 'This sign-in request has expired. Go back to the app and try again.';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><main>${body}</main></body></html>`;
}

function html(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .header('x-frame-options', 'DENY')
    .send(page(title, body));
}

function errorPage(reply: FastifyReply, status: number, message: string): FastifyReply {
  return html(reply, status, 'Sign-in error', `<h1>Sign-in error</h1><p role="alert">${escapeHtml(message)}</p>`);
}

function base(request: FastifyRequest<{ Params: Params }>): string {
  // The path this page was served at, without a trailing segment: forms post below it.
  const path = request.url.split('?')[0]!;
  const at = path.indexOf(`/oauth/interaction/${request.params.uid}`);
  return `${path.slice(0, at)}/oauth/interaction/${encodeURIComponent(request.params.uid)}`;
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

function signInForm(action: string, csrf: string, clientName: string, email = '', error?: string): string {
  return (
    `<h1>Sign in to continue to ${escapeHtml(clientName)}</h1>` +
    (error ? `<p role="alert">${escapeHtml(error)}</p>` : '') +
    `<form method="post" action="${escapeHtml(action)}/login">${hidden('csrf', csrf)}` +
    `<label>Email <input type="email" name="email" autocomplete="username" required value="${escapeHtml(email)}"></label>` +
    `<label>Password <input type="password" name="password" autocomplete="current-password" required></label>` +
    `<button type="submit">Sign in</button></form>` +
    `<form method="post" action="${escapeHtml(action)}/abort">${hidden('csrf', csrf)}<button type="submit">Cancel</button></form>`
  );
}

function mfaForm(action: string, csrf: string, mfaToken: string, error?: string): string {
  return (
    `<h1>Second factor</h1>` +
    (error ? `<p role="alert">${escapeHtml(error)}</p>` : '') +
    `<form method="post" action="${escapeHtml(action)}/mfa">${hidden('csrf', csrf)}${hidden('mfa_token', mfaToken)}` +
    `<label>Code from your authenticator app <input name="code" inputmode="numeric" autocomplete="one-time-code"></label>` +
    `<label>Or a recovery code <input name="recovery_code" autocomplete="off"></label>` +
    `<button type="submit">Continue</button></form>` +
    `<form method="post" action="${escapeHtml(action)}/abort">${hidden('csrf', csrf)}<button type="submit">Cancel</button></form>`
  );
}

function consentPage(action: string, csrf: string, clientName: string, scopes: string[]): string {
  return (
    `<h1>${escapeHtml(clientName)} wants to access your account</h1><ul>` +
    scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('') +
    `</ul><form method="post" action="${escapeHtml(action)}/consent">${hidden('csrf', csrf)}` +
    `<button type="submit" name="decision" value="allow">Allow</button> <button type="submit" name="decision" value="deny">Deny</button></form>`
  );
}

/** What a failed login says on the page (the JSON API's detail, which never tells whether an account exists). */
function failureMessage(f: Failure): string {
  const messages: Partial<Record<ErrorCode, string>> = {
    INVALID_CREDENTIALS: 'Wrong email or password.',
    ACCOUNT_DISABLED: 'This account has been disabled.',
    EMAIL_NOT_VERIFIED: 'Verify your email address first: we sent you a link.',
    RATE_LIMITED: 'Too many attempts. Wait a moment and try again.',
    INVALID_MFA_CODE: 'That code is not right.',
  };
  return messages[f.code] ?? f.detail ?? 'The sign-in did not succeed.';
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

export async function interactionRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const form = { config: { oauth: true } }; // the forms are application/x-www-form-urlencoded
  const hide = { schema: { hide: true } };

  /** The interaction, or an answered 400 page when it is unknown, expired or not this browser's. */
  async function load(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const { oauth } = oauthProviderOf(request);
    const provider = await oauth.current();
    try {
      const details = await provider.interactionDetails(request.raw, reply.raw);
      if (details.uid !== request.params.uid) throw new Error('uid mismatch');
      return { details, provider, keys: oauth.cookieKeys };
    } catch {
      errorPage(reply, 400, EXPIRED);
      return null;
    }
  }

  async function clientName(clientId: unknown): Promise<{ name: string; firstParty: boolean }> {
    const client = typeof clientId === 'string' ? await ctx.store.findOAuthClient(clientId) : null;
    return { name: client?.name ?? 'the app', firstParty: client?.firstParty ?? false };
  }

  /** Checks the form's CSRF token; answers 403 when it is wrong. */
  function csrfOk(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, keys: readonly Buffer[]): boolean {
    const body = (request.body ?? {}) as Form;
    if (interactionCsrfValid(keys, request.params.uid, body.csrf)) return true;
    errorPage(reply, 403, 'This form has expired. Go back to the app and try again.');
    return false;
  }

  /** Answers an unexpected failure with the error page, never a 500 problem. */
  async function guarded(request: FastifyRequest, reply: FastifyReply, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (err) {
      request.log.error({ err }, 'oauth interaction failed');
      if (!reply.sent && !reply.raw.headersSent) errorPage(reply, 400, EXPIRED);
    }
  }

  app.get<{ Params: Params }>('/oauth/interaction/:uid', hide, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded) return;
      const { details, keys } = loaded;
      const csrf = interactionCsrfToken(keys, request.params.uid);
      const client = await clientName(details.params.client_id);
      if (details.prompt.name === 'login') return html(reply, 200, 'Sign in', signInForm(base(request), csrf, client.name));
      if (details.prompt.name === 'consent') {
        const scopes = missingScopes(details);
        // First-party clients skip the page: what they asked is granted (S22).
        if (client.firstParty) return finishConsent(request, reply, { scopes });
        return html(reply, 200, 'Allow access', consentPage(base(request), csrf, client.name, scopes));
      }
      return errorPage(reply, 400, EXPIRED);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/login', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded.keys)) return;
      const { details, keys } = loaded;
      const csrf = interactionCsrfToken(keys, request.params.uid);
      const client = await clientName(details.params.client_id);
      if (details.prompt.name !== 'login') return errorPage(reply, 400, EXPIRED);
      const body = request.body ?? {};
      const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
      const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
      if (email === '' || password === '') return html(reply, 400, 'Sign in', signInForm(base(request), csrf, client.name, email, 'Enter your email and password.'));
      const result = await login(ctx, email, password, requestMeta(request), { challenge: true });
      if (!result.ok) {
        if (result.retryAfter !== undefined) void reply.header('retry-after', String(result.retryAfter));
        return html(reply, failureStatus(result), 'Sign in', signInForm(base(request), csrf, client.name, email, failureMessage(result)));
      }
      const value = result.value;
      if (value.kind === 'mfa_required') return html(reply, 200, 'Second factor', mfaForm(base(request), csrf, value.challenge.mfa_token));
      if (value.kind === 'mfa_enrollment_required') {
        return errorPage(reply, 403, 'Your account must add a second factor before it can sign in here. Sign in to your account, add one, and try again.');
      }
      return finishSignedIn(request, reply, value.user.id, value.tokens.session_id);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/mfa', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded.keys)) return;
      if (loaded.details.prompt.name !== 'login') return errorPage(reply, 400, EXPIRED);
      const csrf = interactionCsrfToken(loaded.keys, request.params.uid);
      const body = request.body ?? {};
      const mfaToken = typeof body.mfa_token === 'string' ? body.mfa_token.slice(0, 256) : '';
      const code = typeof body.code === 'string' && body.code !== '' ? body.code.slice(0, 64) : undefined;
      const recovery = typeof body.recovery_code === 'string' && body.recovery_code !== '' ? body.recovery_code.slice(0, 64) : undefined;
      const result = await verifyMfaChallenge(ctx, mfaToken, { code, recovery_code: code === undefined ? recovery : undefined }, requestMeta(request));
      if (!result.ok) {
        if (result.code === 'MFA_TOKEN_INVALID') return errorPage(reply, 400, EXPIRED);
        if (result.retryAfter !== undefined) void reply.header('retry-after', String(result.retryAfter));
        return html(reply, failureStatus(result), 'Second factor', mfaForm(base(request), csrf, mfaToken, failureMessage(result)));
      }
      return finishSignedIn(request, reply, result.value.user.id, result.value.tokens.session_id);
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/consent', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded.keys)) return;
      if (loaded.details.prompt.name !== 'consent') return errorPage(reply, 400, EXPIRED);
      const decision = request.body?.decision;
      if (decision === 'allow') return finishConsent(request, reply, { scopes: missingScopes(loaded.details) });
      if (decision === 'deny') return finishWithError(request, reply, 'access_denied', 'The user denied the request.');
      return errorPage(reply, 400, 'Choose Allow or Deny.');
    });
  });

  app.post<{ Params: Params; Body: Form }>('/oauth/interaction/:uid/abort', { ...form, ...hide }, async (request, reply) => {
    await guarded(request, reply, async () => {
      const loaded = await load(request, reply);
      if (!loaded || !csrfOk(request, reply, loaded.keys)) return;
      return finishWithError(request, reply, 'access_denied', 'The user cancelled the sign-in.');
    });
  });

  /** The session login() created: its amr and auth time go to the provider session. */
  async function finishSignedIn(request: FastifyRequest, reply: FastifyReply, userId: string, sessionId: string): Promise<void> {
    const found = await ctx.store.getSessionWithUser(sessionId);
    await finishLogin(request, reply, { userId, sessionId, amr: found?.session.amr ?? ['pwd'], authTime: found?.session.authTime ?? ctx.clock() });
  }
}
