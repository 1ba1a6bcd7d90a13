/**
 * Email sign-in (docs/email.md, "Email sign-in"): a mail with a link and a 6-digit code, either
 * of which signs in once; the mailbox is the first factor (`amr: ["email"]`), and a second factor
 * still applies after it, through the login's own decision (completeSignIn).
 *
 * No enumeration, by forgot-password's rules: the request is answered (202, empty object) before
 * the address is looked up, whatever it is (an account, an unknown address, a disabled account,
 * an address over its limit), and the background job does the same work either way (the token,
 * the code, their hashes, the rendered mail) before it decides whether to store and send it.
 *
 * The code's guesses are bounded per challenge: each attempt is counted in the store before the
 * code is compared, so at most MAX_SIGN_IN_CODE_ATTEMPTS codes are ever compared, however many
 * requests arrive at once; the challenge is then dead, link included. A new challenge needs a new
 * request, and those are limited per address (RESET_MAIL_LIMIT per RESET_MAIL_WINDOW_MS) and per
 * client IP (the `mail` bucket), so an attacker gets a handful of guesses at a million codes per
 * quarter hour.
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newId, newOpaqueToken } from '../../lib/ids.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import type { EmailSignInChallenge, UserRecord } from '../../store/types.js';
import { completeSignIn, type LoginResult } from '../auth/service.js';
import { recordEvent } from '../events/service.js';
import { allowedRedirect } from '../social/redirects.js';
import { normaliseEmail } from '../users/fields.js';
import { createFederatedUser } from '../users/service.js';
import type { MailMessage } from './mailer.js';
import { mailLocaleFor, renderMail } from './render.js';
import { RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS, linkTo, throttle } from './service.js';
import { hashSignInCode, newSignInCode, normaliseSignInCode, signInCodeMatches } from './sign-in-code.js';

/** The web-app path the mailed link opens, below APP_URL: `APP_URL/email-sign-in?token=...`. */
export const EMAIL_SIGN_IN_PATH = 'email-sign-in';

/** Wrong codes a challenge survives: the fifth kills it (its link too). */
export const MAX_SIGN_IN_CODE_ATTEMPTS = 5;

/**
 * The `amr` of an email sign-in. RFC 8176 has no value for it, and `otp` would count as a second
 * factor (a mailed code proves the mailbox, the same single factor as the link), so Latchkey
 * names it `email`; it ranks as a first factor with `pwd` and `fed` (factors/step-up.ts).
 */
export const AMR_EMAIL: readonly string[] = Object.freeze(['email']);

/** The one refusal of a verification: a wrong, expired, spent or superseded link or code, alike. */
const invalidSignIn = (): Failure =>
  failure('INVALID_SIGN_IN_CODE', 'The sign-in link or code is wrong, expired or already used; ask for a new sign-in mail.');

/**
 * POST /auth/email/sign-in: answers before the address is looked up and mails in the background.
 * Only a redirect_to outside REDIRECT_ALLOWED_URLS is refused, which says nothing about anyone.
 *
 * @example
 * unwrap(await requestEmailSignIn(ctx, 'ann@example.com', null, requestMeta(request)));
 */
export async function requestEmailSignIn(ctx: LatchkeyContext, emailInput: string, redirectTo: string | null, meta: RequestMeta): Promise<Outcome<void>> {
  let redirect: string | null = null;
  if (redirectTo !== null) {
    const allowed = allowedRedirect(redirectTo, ctx.config.social.redirectAllowedUrls);
    if (!allowed) return failure('REDIRECT_NOT_ALLOWED', 'redirect_to is not in REDIRECT_ALLOWED_URLS; ask the operator to allow it (docs/email.md).');
    redirect = allowed.href;
  }
  const email = normaliseEmail(emailInput);
  // Every address alike, existing or not; past the limit silently (the same 202): the mail already
  // sent stays valid, and a 429 here would only teach a script to slow down.
  const wait = await throttle(ctx, `mail:email-sign-in:${hashToken(email)}`, RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS);
  if (wait > 0) {
    ctx.log.info({ mail: 'email_sign_in' }, 'email sign-in asked for too often for one address: no mail sent');
    return success(undefined);
  }
  ctx.mail.dispatch('email_sign_in', () => prepareSignInMail(ctx, email, redirect, meta));
  return success(undefined);
}

/** The background half of a request: the same work for every address, then stored and sent only for a live account (or a new one, when allowed). */
async function prepareSignInMail(ctx: LatchkeyContext, email: string, redirect: string | null, meta: RequestMeta): Promise<MailMessage | null> {
  const user = await ctx.store.findUserByEmail(email);
  const eligible = user !== null ? !user.disabled : ctx.config.mail.emailSignInCreatesUsers;
  const token = newOpaqueToken();
  const code = newSignInCode();
  const id = newId();
  const now = ctx.clock();
  const ttl = ctx.config.mail.emailSignInTtlMs;
  const challenge = {
    id,
    email,
    tokenHash: hashToken(token),
    codeHash: hashSignInCode(ctx.config.tokens.keyEncryptionKey, id, code),
    createdAt: now,
    expiresAt: now + ttl,
  };
  // The template `email_sign_in` in the reader's language (features/email/render.ts).
  const message = renderMail(ctx, 'email_sign_in', mailLocaleFor(ctx, user, meta), user?.email ?? email, {
    name: user?.name ?? null,
    link: signInLink(ctx, token, redirect),
    code,
    valid_for: ttl,
  });
  if (!eligible) {
    ctx.log.info({ mail: 'email_sign_in' }, 'email sign-in asked for an address with no active account: no mail sent');
    return null;
  }
  // Replaces the address's earlier challenge: only the newest mail signs in.
  await ctx.store.putEmailSignInChallenge(challenge);
  if (user) await recordEvent(ctx, user.id, 'email_sign_in_requested', meta);
  return message;
}

function signInLink(ctx: LatchkeyContext, token: string, redirect: string | null): string {
  const link = new URL(linkTo(ctx, EMAIL_SIGN_IN_PATH, token));
  if (redirect !== null) link.searchParams.set('redirect_to', redirect);
  return link.href;
}

/** What POST /auth/email/sign-in/verify is sent: the link's token, or the address and the code. */
export type EmailSignInProof = { token: string } | { email: string; code: string };

/**
 * POST /auth/email/sign-in/verify: spends the challenge (the link's token, or a right code), then
 * answers as a login: tokens, or the second-factor step, or the login's refusal (a disabled
 * account). The address counts as verified from now on.
 *
 * @example
 * const result = unwrap(await verifyEmailSignIn(ctx, { email: 'ann@example.com', code: '042917' }, meta));
 */
export async function verifyEmailSignIn(ctx: LatchkeyContext, proof: EmailSignInProof, meta: RequestMeta): Promise<Outcome<LoginResult>> {
  const method = 'token' in proof ? 'link' : 'code';
  const challenge =
    'token' in proof
      ? await ctx.store.consumeEmailSignInToken(hashToken(proof.token), ctx.clock(), MAX_SIGN_IN_CODE_ATTEMPTS)
      : await spendCode(ctx, normaliseEmail(proof.email), proof.code, meta);
  if (!challenge) return invalidSignIn();
  return signInByEmail(ctx, challenge.email, method, meta);
}

/** The challenge of `email` when `codeInput` is its code and this call spent it; null otherwise (the attempt counted). */
async function spendCode(ctx: LatchkeyContext, email: string, codeInput: string, meta: RequestMeta): Promise<EmailSignInChallenge | null> {
  // Counted before it is compared: no more than the limit of codes is ever compared per challenge.
  const challenge = await ctx.store.countEmailSignInAttempt(email, ctx.clock(), MAX_SIGN_IN_CODE_ATTEMPTS);
  if (!challenge) return null;
  const code = normaliseSignInCode(codeInput);
  if (code !== null && signInCodeMatches(ctx.config.tokens.keyEncryptionKey, challenge.id, challenge.codeHash, code)) {
    // Of a right code and the link (or two right codes) at once, one signs in.
    return (await ctx.store.consumeEmailSignInChallenge(challenge.id, ctx.clock())) ? challenge : null;
  }
  const user = await ctx.store.findUserByEmail(email);
  if (user) {
    await recordEvent(ctx, user.id, 'email_sign_in_failed', meta, {
      reason: 'wrong_code',
      attempts: challenge.attempts,
      challenge_dead: challenge.attempts >= MAX_SIGN_IN_CODE_ATTEMPTS,
    });
  }
  return null;
}

/** The account of a proved address (made now, when allowed and there is none), signed in as a login would be. */
async function signInByEmail(ctx: LatchkeyContext, email: string, method: 'link' | 'code', meta: RequestMeta): Promise<Outcome<LoginResult>> {
  let user = await ctx.store.findUserByEmail(email);
  let created = false;
  if (!user) {
    // The account was deleted since the mail, or never existed: made only when the setting allows.
    if (!ctx.config.mail.emailSignInCreatesUsers) return invalidSignIn();
    const made = await createFederatedUser(ctx, { email, name: null, emailVerified: true });
    if (made.ok) {
      user = made.value;
      created = true;
      await recordEvent(ctx, user.id, 'register', meta, { method: 'email_sign_in' });
    } else if (made.code === 'EMAIL_TAKEN') {
      // Registered meanwhile: the mailbox's owner signs in to it.
      user = await ctx.store.findUserByEmail(email);
      if (!user) return invalidSignIn();
    } else {
      return made;
    }
  }
  if (user.disabled) {
    await recordEvent(ctx, user.id, 'email_sign_in_failed', meta, { reason: 'account_disabled', method });
  } else {
    user = await markEmailVerified(ctx, user, meta);
    await recordEvent(ctx, user.id, 'email_sign_in', meta, created ? { method, new_account: true } : { method });
  }
  return completeSignIn(ctx, user, meta, AMR_EMAIL, { challenge: true });
}

/** Reading the mail proved the address: verified from now on, and any verification link still out is void. */
async function markEmailVerified(ctx: LatchkeyContext, user: UserRecord, meta: RequestMeta): Promise<UserRecord> {
  if (user.emailVerified) return user;
  const updated = await ctx.store.updateUser(user.id, { emailVerified: true }, ctx.clock());
  if (!updated) return user;
  await ctx.store.deleteOneTimeTokens(user.id, 'verify_email');
  await recordEvent(ctx, user.id, 'email_verified', meta, { via: 'email_sign_in' });
  return updated;
}
