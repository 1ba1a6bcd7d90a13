/**
 * Social sign-in and linked identities (docs/social-login.md).
 *
 * The flow: GET /auth/oauth/{provider}/start stores a state (hashed) bound to the browser by an
 * HttpOnly cookie and sends the browser to the provider with state, nonce and PKCE; the callback
 * spends the state (once, and only with the cookie of the browser that started it), proves who
 * signed in (ID token, or GitHub's API), applies the linking rule and sends the browser back to
 * the allow-listed redirect_to with a single-use exchange code, never a token; POST
 * /auth/oauth/exchange turns the code into the same answer as a login (tokens, or mfa_required).
 *
 * The linking rule, against the known account takeover (a provider account carrying someone
 * else's address, never verified, is linked to that person's account): an identity already
 * linked signs in; a new one is linked to the account with its email only when the provider says
 * it verified the address AND the account's own address is verified; otherwise the callback
 * refuses with ACCOUNT_EXISTS_LINK_REQUIRED (sign in to that account, then link). A new account
 * is made only for a provider-verified address (else EMAIL_NOT_VERIFIED_BY_PROVIDER): one made on
 * an unverified address would be an account pre-hijacked for its real owner.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newId, newOpaqueToken } from '../../lib/ids.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import { hasNoPassword } from '../../passwords/no-password.js';
import type { IdentityRecord, UserRecord } from '../../store/types.js';
import { completeSignIn, type LoginResult } from '../auth/service.js';
import { mailLocaleFor, renderMail } from '../email/render.js';
import { adminActor, recordAudit } from '../audit/service.js';
import { recordEvent } from '../events/service.js';
import { normaliseEmail } from '../users/fields.js';
import { createFederatedUser } from '../users/service.js';
import type { ProviderProfile, SocialProvider } from './provider.js';
import { allowedRedirect, redirectWith } from './redirects.js';

/** How long a sign-in may stay at the provider (the state row and the browser cookie). */
export const STATE_TTL_MS = 10 * 60_000;
/** How long the app has to exchange the code it was sent back with. */
export const EXCHANGE_CODE_TTL_MS = 2 * 60_000;
/** How long the URL answered by POST /auth/identities/{provider}/link works. */
export const LINK_TICKET_TTL_MS = 2 * 60_000;

/**
 * The `amr` of a social sign-in. RFC 8176 has no value for a federated login; `fed` is the one
 * Microsoft Entra and others use for it (docs/social-login.md).
 */
export const AMR_FEDERATED: readonly string[] = Object.freeze(['fed']);

/** An S256 code_challenge or a cookie value of ours: 32 bytes, base64url. */
export const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;

/** A linked identity as the API shows it. */
export interface PublicIdentity {
  id: string;
  provider: string;
  provider_name: string;
  email: string | null;
  email_verified: boolean;
  created_at: string;
  last_used_at: string | null;
}

export function publicIdentity(ctx: LatchkeyContext, i: IdentityRecord): PublicIdentity {
  const configured = Object.hasOwn(ctx.config.social.providers, i.provider) ? ctx.config.social.providers[i.provider] : undefined;
  return {
    id: i.id,
    provider: i.provider,
    provider_name: configured?.name ?? i.provider,
    email: i.email,
    email_verified: i.emailVerified,
    created_at: new Date(i.createdAt).toISOString(),
    last_used_at: i.lastUsedAt === null ? null : new Date(i.lastUsedAt).toISOString(),
  };
}

const notAllowed = (): Failure =>
  failure('REDIRECT_NOT_ALLOWED', 'redirect_to is not in REDIRECT_ALLOWED_URLS; ask the operator to allow it (docs/social-login.md).');

const INVALID_STATE = 'This sign-in is unknown, expired, already finished or was started in another browser; start it again.';

/** What starting a sign-in needs besides the provider. */
export interface StartInput {
  redirectTo: string;
  codeChallenge: string | null;
  linkTicket: string | null;
  /** The random value of this browser's cookie (kept when it has one, so two tabs can sign in at once). */
  browser: string;
  callbackUri: string;
  /**
   * Prefixes allowed beside REDIRECT_ALLOWED_URLS: with OAUTH_PROVIDER on, the provider's own
   * interaction URLs (`<issuer>/oauth/interaction/`), where its sign-in page's social buttons
   * come back to, whatever the operator listed for the apps.
   */
  alsoAllowed?: readonly string[];
}

/**
 * GET /auth/oauth/{provider}/start: the provider's authorization URL, after storing the state.
 *
 * @example
 * const { url } = unwrap(await startSignIn(ctx, provider, input));
 */
export async function startSignIn(ctx: LatchkeyContext, provider: SocialProvider, input: StartInput): Promise<Outcome<{ url: string }>> {
  if (!allowedRedirect(input.redirectTo, [...ctx.config.social.redirectAllowedUrls, ...(input.alsoAllowed ?? [])])) return notAllowed();
  const now = ctx.clock();
  let linkUserId: string | null = null;
  if (input.linkTicket !== null) {
    linkUserId = await ctx.store.consumeOneTimeToken(hashToken(input.linkTicket), 'identity_link', now);
    if (!linkUserId) return failure('INVALID_OAUTH_STATE', 'This link URL is unknown, used or expired; ask for a new one (POST /auth/identities/{provider}/link).');
  }
  const state = newOpaqueToken();
  const checks = { state, nonce: provider.usesNonce ? newOpaqueToken() : null, codeVerifier: newOpaqueToken(), redirectUri: input.callbackUri };
  // Asked of the provider first: an unreachable one stores nothing.
  const url = await provider.authorizationUrl(checks);
  if (!url.ok) return url;
  await ctx.store.createOAuthState({
    stateHash: hashToken(state),
    browserHash: hashToken(input.browser),
    provider: provider.config.id,
    nonce: checks.nonce,
    codeVerifier: checks.codeVerifier,
    redirectTo: input.redirectTo,
    appCodeChallenge: input.codeChallenge,
    linkUserId,
    createdAt: now,
    expiresAt: now + STATE_TTL_MS,
  });
  return success({ url: url.value });
}

/** The callback's query, as the provider sent it. */
export interface CallbackInput {
  url: URL;
  /** The cookie's value, when the browser sent one. */
  browser: string | null;
  callbackUri: string;
}

/**
 * GET /auth/oauth/{provider}/callback: the URL to send the browser to. A state that is missing,
 * unknown, spent, expired, of another provider or of another browser is INVALID_OAUTH_STATE
 * (answered as a problem, no redirect: where to would not be trustworthy); any later refusal is
 * a redirect to redirect_to with `error` and `error_description`.
 */
export async function handleCallback(ctx: LatchkeyContext, provider: SocialProvider, input: CallbackInput, meta: RequestMeta): Promise<Outcome<string>> {
  const state = input.url.searchParams.get('state');
  if (!state || input.browser === null) return failure('INVALID_OAUTH_STATE', INVALID_STATE);
  // Spent before anything else: a state someone tries with the wrong cookie is gone for everyone.
  const row = await ctx.store.consumeOAuthState(hashToken(state), ctx.clock());
  if (!row || row.provider !== provider.config.id || !sameHash(row.browserHash, hashToken(input.browser))) {
    return failure('INVALID_OAUTH_STATE', INVALID_STATE);
  }
  const back = (f: Failure) => success(redirectWith(row.redirectTo, { error: f.code, error_description: f.detail ?? f.code }));
  const providerError = input.url.searchParams.get('error');
  if (providerError !== null) {
    // access_denied when the person cancelled; shown as the provider's code only (no free text of theirs).
    const shown = /^[a-z_]{1,64}$/.test(providerError) ? providerError : 'error';
    return back(failure('PROVIDER_ERROR', `${provider.config.name} did not sign you in (${shown}).`));
  }
  const checks = { state, nonce: row.nonce, codeVerifier: row.codeVerifier, redirectUri: input.callbackUri };
  const profile = await provider.profile(input.url, checks);
  if (!profile.ok) return back(profile);
  const resolved =
    row.linkUserId !== null
      ? await linkToUser(ctx, provider, row.linkUserId, profile.value, meta)
      : await resolveSignIn(ctx, provider, profile.value, meta);
  if (!resolved.ok) return back(resolved);
  const code = newOpaqueToken();
  const now = ctx.clock();
  await ctx.store.createExchangeCode({
    codeHash: hashToken(code),
    userId: resolved.value.user.id,
    identityId: resolved.value.identity.id,
    purpose: row.linkUserId !== null ? 'link' : 'sign_in',
    appCodeChallenge: row.appCodeChallenge,
    createdAt: now,
    expiresAt: now + EXCHANGE_CODE_TTL_MS,
  });
  return success(redirectWith(row.redirectTo, { code }));
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

interface Resolved {
  user: UserRecord;
  identity: IdentityRecord;
}

/** A sign-in: the identity's user, a linked account (the rule above), or a new account. */
async function resolveSignIn(ctx: LatchkeyContext, provider: SocialProvider, profile: ProviderProfile, meta: RequestMeta): Promise<Outcome<Resolved>> {
  const providerId = provider.config.id;
  const now = ctx.clock();
  const existing = await ctx.store.findIdentity(providerId, profile.subject);
  if (existing) {
    const user = await ctx.store.findUserById(existing.userId);
    if (!user) return failure('INVALID_OAUTH_STATE', INVALID_STATE);
    await ctx.store.touchIdentity(existing.id, profile.email, profile.emailVerified, now);
    await recordEvent(ctx, user.id, 'social_login', meta, { provider: providerId, identity_id: existing.id });
    return success({ user, identity: existing });
  }
  if (profile.email === null || !profile.emailVerified) {
    // Neither a link nor a new account on an address the provider did not verify.
    const account = profile.email === null ? null : await ctx.store.findUserByEmail(normaliseEmail(profile.email));
    if (account) return linkRequired(provider);
    return failure(
      'EMAIL_NOT_VERIFIED_BY_PROVIDER',
      `${provider.config.name} did not give a verified email address; verify it there, or register with a password.`,
    );
  }
  const account = await ctx.store.findUserByEmail(normaliseEmail(profile.email));
  if (account) {
    if (!account.emailVerified) return linkRequired(provider);
    const linked = await addIdentity(ctx, provider, account, profile, meta, 'matching_verified_email');
    if (!linked.ok) return linked;
    await recordEvent(ctx, account.id, 'social_login', meta, { provider: providerId, identity_id: linked.value.id });
    return success({ user: account, identity: linked.value });
  }
  const created = await createFederatedUser(ctx, { email: profile.email, name: profile.name, emailVerified: true });
  // EMAIL_TAKEN: another request made the account meanwhile; its address is not known verified here.
  if (!created.ok) return created.code === 'EMAIL_TAKEN' ? linkRequired(provider) : created;
  const user = created.value;
  await recordEvent(ctx, user.id, 'register', meta, { provider: providerId });
  const identity: IdentityRecord = { ...newIdentity(user.id, providerId, profile, now), lastUsedAt: now };
  if (!(await ctx.store.createIdentity(identity))) return alreadyLinked(provider);
  await ctx.store.touchIdentity(identity.id, profile.email, profile.emailVerified, now);
  await recordEvent(ctx, user.id, 'social_login', meta, { provider: providerId, identity_id: identity.id, new_account: true });
  return success({ user, identity });
}

/** A link asked for by a signed-in user (POST /auth/identities/{provider}/link). */
async function linkToUser(ctx: LatchkeyContext, provider: SocialProvider, userId: string, profile: ProviderProfile, meta: RequestMeta): Promise<Outcome<Resolved>> {
  const user = await ctx.store.findUserById(userId);
  if (!user) return failure('INVALID_OAUTH_STATE', INVALID_STATE);
  const existing = await ctx.store.findIdentity(provider.config.id, profile.subject);
  if (existing) {
    if (existing.userId !== user.id) return alreadyLinked(provider);
    await ctx.store.touchIdentity(existing.id, profile.email, profile.emailVerified, ctx.clock());
    return success({ user, identity: existing });
  }
  const identity = await addIdentity(ctx, provider, user, profile, meta, 'signed_in_user');
  return identity.ok ? success({ user, identity: identity.value }) : identity;
}

function newIdentity(userId: string, provider: string, profile: ProviderProfile, now: number) {
  return { id: newId(), userId, provider, subject: profile.subject, email: profile.email, emailVerified: profile.emailVerified, createdAt: now };
}

/** Links, records identity_linked and mails the account's owner. */
async function addIdentity(
  ctx: LatchkeyContext,
  provider: SocialProvider,
  user: UserRecord,
  profile: ProviderProfile,
  meta: RequestMeta,
  how: 'matching_verified_email' | 'signed_in_user',
): Promise<Outcome<IdentityRecord>> {
  const now = ctx.clock();
  const identity = newIdentity(user.id, provider.config.id, profile, now);
  if (!(await ctx.store.createIdentity(identity))) return alreadyLinked(provider);
  await ctx.store.touchIdentity(identity.id, profile.email, profile.emailVerified, now);
  await recordEvent(ctx, user.id, 'identity_linked', meta, { provider: provider.config.id, identity_id: identity.id, how });
  ctx.mail.dispatch('identity_linked', async () =>
    renderMail(ctx, 'identity_linked', mailLocaleFor(ctx, user, meta), user.email, { name: user.name, provider: provider.config.name, provider_email: profile.email }),
  );
  return success({ ...identity, lastUsedAt: now });
}

const linkRequired = (provider: SocialProvider): Failure =>
  failure(
    'ACCOUNT_EXISTS_LINK_REQUIRED',
    `An account with this email already exists: sign in to it, then link ${provider.config.name} from your account.`,
  );

const alreadyLinked = (provider: SocialProvider): Failure =>
  failure('IDENTITY_ALREADY_LINKED', `This ${provider.config.name} account is already linked to another account.`);

/** What POST /auth/oauth/exchange answers: a login's result, or the identity a link added. */
export type ExchangeResult = LoginResult | { kind: 'linked'; identity: PublicIdentity };

const INVALID_CODE = (): Failure =>
  failure('INVALID_EXCHANGE_CODE', 'The code is unknown, used or expired, or the code_verifier does not match; sign in again.');

/**
 * POST /auth/oauth/exchange. The code is spent first, whatever follows: a wrong code_verifier
 * costs the code, so it cannot be guessed at.
 *
 * @example
 * const result = unwrap(await exchangeCode(ctx, body.code, body.code_verifier ?? null, meta));
 */
export async function exchangeCode(
  ctx: LatchkeyContext,
  code: string,
  codeVerifier: string | null,
  meta: RequestMeta,
  options: { requireChallenge?: boolean } = {},
): Promise<Outcome<ExchangeResult>> {
  const row = await ctx.store.consumeExchangeCode(hashToken(code), ctx.clock());
  if (!row) return INVALID_CODE();
  // The OAuth provider's sign-in page binds its social sign-ins to the interaction by PKCE: a code
  // of a sign-in started without a challenge (by anyone, anywhere) must not be spent there.
  if (options.requireChallenge && row.appCodeChallenge === null) return INVALID_CODE();
  if (row.appCodeChallenge !== null) {
    if (codeVerifier === null) return INVALID_CODE();
    const challenge = createHash('sha256').update(codeVerifier).digest('base64url');
    if (!sameHash(challenge, row.appCodeChallenge)) return INVALID_CODE();
  }
  const user = await ctx.store.findUserById(row.userId);
  if (!user) return INVALID_CODE();
  if (row.purpose === 'link') {
    const identity = (await ctx.store.listIdentities(user.id)).find((i) => i.id === row.identityId);
    if (!identity) return INVALID_CODE();
    return success({ kind: 'linked', identity: publicIdentity(ctx, identity) });
  }
  return completeSignIn(ctx, user, meta, AMR_FEDERATED, { challenge: true });
}

/**
 * POST /auth/identities/{provider}/link: a single-use ticket (hashed at rest, LINK_TICKET_TTL_MS)
 * carrying the signed-in user into the /start URL answered; the browser navigates there.
 */
export async function issueLinkUrl(
  ctx: LatchkeyContext,
  userId: string,
  startUrl: string,
  input: { redirectTo: string; codeChallenge: string | null },
): Promise<Outcome<{ url: string }>> {
  if (!allowedRedirect(input.redirectTo, ctx.config.social.redirectAllowedUrls)) return notAllowed();
  const ticket = newOpaqueToken();
  const now = ctx.clock();
  await ctx.store.createOneTimeToken({ tokenHash: hashToken(ticket), userId, purpose: 'identity_link', createdAt: now, expiresAt: now + LINK_TICKET_TTL_MS });
  const url = new URL(startUrl);
  url.searchParams.set('redirect_to', input.redirectTo);
  if (input.codeChallenge !== null) url.searchParams.set('code_challenge', input.codeChallenge);
  url.searchParams.set('link_ticket', ticket);
  return success({ url: url.href });
}

/** GET /auth/identities (and the admin's view): the identities, and whether a password is set. */
export async function listUserIdentities(ctx: LatchkeyContext, user: UserRecord): Promise<{ identities: PublicIdentity[]; has_password: boolean }> {
  const identities = await ctx.store.listIdentities(user.id);
  return { identities: identities.map((i) => publicIdentity(ctx, i)), has_password: !hasNoPassword(user.passwordHash) };
}

/**
 * Unlinks an identity. The owner may not remove the last way to sign in (no password, no passkey,
 * no other identity): LAST_SIGN_IN_METHOD. An admin may (`force`): the owner can still set a
 * password through the reset flow.
 */
export async function unlinkIdentity(
  ctx: LatchkeyContext,
  user: UserRecord,
  identityId: string,
  meta: RequestMeta,
  options: { force: boolean; by?: string },
): Promise<Outcome<void>> {
  const identities = await ctx.store.listIdentities(user.id);
  const identity = identities.find((i) => i.id === identityId);
  if (!identity) return failure('IDENTITY_NOT_FOUND', 'No identity with this id is linked to this account.');
  // Without a password or a passkey, the identities are the only ways in: the store keeps one,
  // atomically, so two unlinks at once cannot remove the last two.
  const keepOne = !options.force && hasNoPassword(user.passwordHash) && (await ctx.store.listPasskeys(user.id)).length === 0;
  if (!(await ctx.store.deleteIdentity(user.id, identityId, keepOne))) {
    if (keepOne && (await ctx.store.listIdentities(user.id)).some((i) => i.id === identityId)) {
      return failure(
        'LAST_SIGN_IN_METHOD',
        'This is the only way to sign in to this account: set a password (POST /auth/password/forgot) or link another provider first.',
      );
    }
    return failure('IDENTITY_NOT_FOUND', 'No identity with this id is linked to this account.');
  }
  await Promise.all([
    recordEvent(ctx, user.id, 'identity_unlinked', meta, { provider: identity.provider, identity_id: identity.id, ...(options.by ? { by: options.by } : {}) }),
    // The owner's own unlink is audited from recordEvent; an admin's here, with the admin as the actor.
    options.by
      ? recordAudit(ctx, {
          actor: adminActor(options.by, meta),
          action: 'admin.identity.unlinked',
          target: { type: 'identity', id: identity.id },
          changes: { user_id: user.id, provider: identity.provider },
          meta,
        })
      : undefined,
  ]);
  return success(undefined);
}
