/**
 * The ends of the provider's interactions (docs/oauth-provider.md, "Sessions"): every sign-in
 * method of the interaction pages ends in `finishLogin`, every consent in `finishConsent`, a
 * refusal in `finishWithError`. Each hands the result to oidc-provider, which answers the browser
 * with the redirect back to the authorization request (the reply is hijacked).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults } from 'oidc-provider';
import type { LatchkeyContext } from '../../context.js';
import { requestMeta } from '../../http/request.js';
import { recordAudit } from '../audit/service.js';
import type { OAuthProvider } from './provider.js';

/** The provider of each Latchkey instance (set by mount.ts). */
const providers = new WeakMap<LatchkeyContext, OAuthProvider>();

export function registerOAuthProvider(ctx: LatchkeyContext, provider: OAuthProvider): void {
  providers.set(ctx, provider);
}

/** The OAuthProvider of the instance serving `request`. */
export function oauthProviderOf(request: FastifyRequest): { ctx: LatchkeyContext; oauth: OAuthProvider } {
  const ctx = request.server.latchkey;
  const oauth = providers.get(ctx);
  if (!oauth) throw new Error('the OAuth provider is not mounted (OAUTH_PROVIDER=false)');
  return { ctx, oauth };
}

export interface FinishLogin {
  userId: string;
  /** The Latchkey session the sign-in created (a row of `sessions`). */
  sessionId: string;
  amr: readonly string[];
  /** Epoch ms of the authentication. */
  authTime: number;
}

async function finish(request: FastifyRequest, reply: FastifyReply, result: InteractionResults, merge: boolean): Promise<void> {
  const { oauth } = oauthProviderOf(request);
  const provider = await oauth.current();
  reply.hijack();
  await provider.interactionFinished(request.raw, reply.raw, result, { mergeWithLastSubmission: merge });
}

/**
 * Ends a sign-in step: the provider session is signed in as `userId` and remembers the Latchkey
 * session `sessionId`; once that session ends, the provider asks for a sign-in again.
 *
 * @example
 * await finishLogin(request, reply, { userId: user.id, sessionId: tokens.session_id, amr: ['pwd'], authTime: ctx.clock() });
 */
export async function finishLogin(request: FastifyRequest, reply: FastifyReply, login: FinishLogin): Promise<void> {
  await finish(
    request,
    reply,
    {
      login: { accountId: login.userId, amr: [...login.amr], ts: Math.floor(login.authTime / 1000), remember: true },
      latchkey: { sessionId: login.sessionId },
    },
    false,
  );
}

/**
 * Ends the consent step: the Grant (the remembered consent of this user to this client) gets the
 * requested scopes, claims and resource scopes that are among `scopes`, and is saved for
 * OAUTH_CONSENT_TTL. First-party clients come here without a page.
 *
 * @example
 * await finishConsent(request, reply, { scopes: ['openid', 'profile'] });
 */
export async function finishConsent(request: FastifyRequest, reply: FastifyReply, consent: { scopes: readonly string[] }): Promise<void> {
  const { ctx, oauth } = oauthProviderOf(request);
  const provider = await oauth.current();
  const details = await provider.interactionDetails(request.raw, reply.raw);
  const accountId = details.session?.accountId;
  const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
  if (!accountId || details.prompt.name !== 'consent') throw new Error('finishConsent outside a consent prompt');
  const allowed = new Set(consent.scopes);
  const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  const oidcScopes = (missing.missingOIDCScope ?? []).filter((s) => allowed.has(s));
  if (oidcScopes.length > 0) grant.addOIDCScope(oidcScopes.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    const granted = scopes.filter((s) => allowed.has(s));
    if (granted.length > 0) grant.addResourceScope(resource, granted.join(' '));
  }
  const grantId = await grant.save();
  await recordAudit(ctx, {
    actor: { type: 'user', id: accountId, email: null },
    action: 'user.oauth_consent.granted',
    target: { type: 'oauth_client', id: clientId },
    changes: { scopes: [...oidcScopes, ...Object.values(missing.missingResourceScopes ?? {}).flat().filter((s) => allowed.has(s))] },
    meta: requestMeta(request),
  });
  await finish(request, reply, { consent: { grantId } }, true);
}

/** Ends the interaction with an OAuth error for the client (`access_denied` for a refusal or an abort). */
export async function finishWithError(request: FastifyRequest, reply: FastifyReply, error: string, description: string): Promise<void> {
  await finish(request, reply, { error, error_description: description }, false);
}

/**
 * The CSRF token of an interaction's forms: an HMAC of its uid with the provider's first cookie
 * key (derived from the signing keys: the same on every instance). The uid itself is bound to the
 * browser by oidc-provider's interaction cookie.
 */
export function interactionCsrfToken(keys: readonly Buffer[], uid: string): string {
  return createHmac('sha256', keys[0]!).update(`interaction-csrf:${uid}`).digest('base64url');
}

/** True when `token` is the CSRF token of `uid` under one of the keys (the previous key's too, across a rotation). */
export function interactionCsrfValid(keys: readonly Buffer[], uid: string, token: unknown): boolean {
  if (typeof token !== 'string' || token.length > 100) return false;
  const given = Buffer.from(token);
  return keys.some((key) => {
    const expected = Buffer.from(createHmac('sha256', key).update(`interaction-csrf:${uid}`).digest('base64url'));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
