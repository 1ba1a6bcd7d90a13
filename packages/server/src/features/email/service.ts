import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newOpaqueToken } from '../../lib/ids.js';
import { failure, invalid, retryLater, success, type Failure, type Outcome } from '../../outcome.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import type { AuthUser, OneTimeTokenPurpose, UserRecord } from '../../store/types.js';
import { recordEvent } from '../events/service.js';
import { normaliseEmail } from '../users/fields.js';
import { mailLocaleFor, renderMail } from './render.js';

/**
 * One verification mail per user per minute, whichever path sends it: registration, the
 * signed-in resend, the public resend, a refused login.
 */
export const VERIFY_MAIL_COOLDOWN_MS = 60_000;
/**
 * At most this many reset mails (and, separately, public verification resends) per address per
 * window: an inbox cannot be flooded.
 */
export const RESET_MAIL_LIMIT = 3;
export const RESET_MAIL_WINDOW_MS = 15 * 60_000;

/** Web-app paths the mailed links point to, below APP_URL; the token is the `token` query parameter. */
export const VERIFY_EMAIL_PATH = 'verify-email';
export const RESET_PASSWORD_PATH = 'reset-password';

export function linkTo(ctx: LatchkeyContext, path: string, token: string): string {
  const url = new URL(path, ctx.config.mail.appUrl + '/');
  url.searchParams.set('token', token);
  return url.toString();
}

/** Counts one mail against `key`; returns the seconds to wait when over `limit`, else 0. */
export async function throttle(ctx: LatchkeyContext, key: string, limit: number, windowMs: number): Promise<number> {
  const now = ctx.clock();
  const counter = await ctx.store.hitRateCounter(key, now, windowMs);
  return counter.count > limit ? Math.max(1, Math.ceil((counter.resetAt - now) / 1000)) : 0;
}

/** A refusal to send more mail for now: 429 with Retry-After. */
export function mailThrottled(retryAfter: number): Failure {
  return retryLater('RATE_LIMITED', `A mail was sent recently; retry in ${retryAfter} s.`, retryAfter);
}

/** Stores a new single-use token (its hash only), replacing any earlier one of the same purpose. */
export async function storeToken(ctx: LatchkeyContext, userId: string, purpose: OneTimeTokenPurpose, tokenHash: string, ttlMs: number): Promise<void> {
  const now = ctx.clock();
  await ctx.store.deleteOneTimeTokens(userId, purpose);
  // Only the hash is stored: a copy of the database cannot be used to verify or reset.
  await ctx.store.createOneTimeToken({ tokenHash, userId, purpose, createdAt: now, expiresAt: now + ttlMs });
}

/**
 * Mails a fresh verification link in the background (after the caller's commit), in the user's
 * language (else the request's, `meta`). Never throws: a failure to build or deliver it is
 * logged, and the user can ask again.
 */
export function scheduleVerificationMail(ctx: LatchkeyContext, user: AuthUser, meta?: RequestMeta): void {
  ctx.mail.dispatch('verify_email', async () => {
    const token = newOpaqueToken();
    await storeToken(ctx, user.id, 'verify_email', hashToken(token), ctx.config.mail.verifyEmailTtlMs);
    return renderMail(ctx, 'verify_email', mailLocaleFor(ctx, user, meta), user.email, {
      name: user.name,
      link: linkTo(ctx, VERIFY_EMAIL_PATH, token),
      valid_for: ctx.config.mail.verifyEmailTtlMs,
    });
  });
}

/**
 * Mails a verification link unless one went to this user less than VERIFY_MAIL_COOLDOWN_MS
 * ago: every path that sends one counts toward the same limit, so a new link never replaces one
 * the user is about to click. Returns the seconds until the next one may go (0: sent now).
 */
async function verificationMailUnlessRecent(ctx: LatchkeyContext, user: AuthUser, meta?: RequestMeta): Promise<number> {
  const wait = await throttle(ctx, `mail:verify:${user.id}`, 1, VERIFY_MAIL_COOLDOWN_MS);
  if (wait === 0) scheduleVerificationMail(ctx, user, meta);
  return wait;
}

/**
 * The verification mail of a new account, counted toward the once-a-minute limit (a login
 * refused right after registering does not mail a second link that would replace it). Never
 * throws: the account exists whatever happens to its mail, and a new link can be asked for.
 */
export async function mailVerificationAfterRegister(ctx: LatchkeyContext, user: AuthUser, meta?: RequestMeta): Promise<void> {
  try {
    await verificationMailUnlessRecent(ctx, user, meta);
  } catch (err) {
    ctx.log.warn({ err: { message: (err as Error).message }, userId: user.id }, 'could not send the verification mail');
  }
}

/** POST /auth/email/verify-request: another verification mail for the signed-in user. */
export async function requestVerificationMail(ctx: LatchkeyContext, user: AuthUser, meta?: RequestMeta): Promise<Outcome<void>> {
  if (user.emailVerified) return failure('EMAIL_ALREADY_VERIFIED', 'This email address is already verified.');
  const wait = await verificationMailUnlessRecent(ctx, user, meta);
  if (wait > 0) return mailThrottled(wait);
  return success(undefined);
}

/**
 * Login with the right password but an unverified address while REQUIRE_VERIFIED_EMAIL is on:
 * refused, and a new link is mailed unless one went less than a minute ago. The refusal says
 * which (`mail_sent`), and when none was sent, when one can be (Retry-After). Only the owner
 * of the password gets this answer, so it tells nobody else anything.
 */
export async function refuseUnverifiedLogin(ctx: LatchkeyContext, user: UserRecord, meta?: RequestMeta): Promise<Failure> {
  let wait = 0;
  try {
    wait = await verificationMailUnlessRecent(ctx, user, meta);
  } catch (err) {
    ctx.log.warn({ err: { message: (err as Error).message }, userId: user.id }, 'could not resend the verification mail');
    return { ...failure('EMAIL_NOT_VERIFIED', 'Confirm your email address first, with the link mailed to it.'), members: { mail_sent: false } };
  }
  if (wait === 0) {
    return { ...failure('EMAIL_NOT_VERIFIED', 'Confirm your email address first: a new link has been mailed to it.'), members: { mail_sent: true } };
  }
  return {
    ...failure('EMAIL_NOT_VERIFIED', `Confirm your email address first, with the link mailed to it less than a minute ago; a new one can be sent in ${wait} s.`),
    members: { mail_sent: false },
    retryAfter: wait,
  };
}

/**
 * POST /auth/email/verify-resend: a new verification link for a signed-out user, by address.
 * Forgot-password's rules: answered (202) before the account is looked up, the same limit per
 * address (every address alike, existing or not), and the background job does the same work
 * whether or not a mail goes out. A mail goes only to an active, unverified account, and at most
 * once a minute per account (shared with every other path that mails a link).
 */
export async function resendVerificationByEmail(ctx: LatchkeyContext, emailInput: string, meta?: RequestMeta): Promise<Outcome<void>> {
  const email = normaliseEmail(emailInput);
  const wait = await throttle(ctx, `mail:verify-resend:${hashToken(email)}`, RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS);
  if (wait > 0) return mailThrottled(wait);
  ctx.mail.dispatch('verify_email', async () => {
    const user = await ctx.store.findUserByEmail(email);
    // The same work whether or not a mail goes out: a token, its hash, the rendered mail.
    const token = newOpaqueToken();
    const tokenHash = hashToken(token);
    const message = renderMail(ctx, 'verify_email', mailLocaleFor(ctx, user, meta), user?.email ?? email, {
      name: user?.name ?? null,
      link: linkTo(ctx, VERIFY_EMAIL_PATH, token),
      valid_for: ctx.config.mail.verifyEmailTtlMs,
    });
    const eligible = user !== null && !user.disabled && !user.emailVerified;
    if (!eligible || (await throttle(ctx, `mail:verify:${user.id}`, 1, VERIFY_MAIL_COOLDOWN_MS)) > 0) {
      ctx.log.info({ mail: 'verify_email' }, 'verification resend: no unverified account has this address, or a link went less than a minute ago; no mail sent');
      return null;
    }
    await storeToken(ctx, user.id, 'verify_email', tokenHash, ctx.config.mail.verifyEmailTtlMs);
    return message;
  });
  return success(undefined);
}

/** POST /auth/email/verify: spends the token and marks the address verified. */
export async function verifyEmail(ctx: LatchkeyContext, token: string, meta: RequestMeta): Promise<Outcome<UserRecord>> {
  const now = ctx.clock();
  const userId = await ctx.store.consumeOneTimeToken(hashToken(token), 'verify_email', now);
  if (!userId) return failure('TOKEN_INVALID', 'This verification link is invalid, already used or expired.');
  const user = await ctx.store.updateUser(userId, { emailVerified: true }, now);
  if (!user) return failure('TOKEN_INVALID', 'This verification link is invalid, already used or expired.');
  await recordEvent(ctx, user.id, 'email_verified', meta);
  return success(user);
}

/**
 * POST /auth/password/forgot. The caller is answered (202) before the account is even looked
 * up, so neither the status nor the time of the answer depends on whether it exists; the
 * background job then does the same work either way (a token, its hash, the rendered mail) and
 * only stores and sends it for an active account. The per-address limit counts every address
 * alike, existing or not.
 */
export async function forgotPassword(ctx: LatchkeyContext, emailInput: string, meta: RequestMeta): Promise<Outcome<void>> {
  const email = normaliseEmail(emailInput);
  const wait = await throttle(ctx, `mail:reset:${hashToken(email)}`, RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS);
  if (wait > 0) return mailThrottled(wait);
  ctx.mail.dispatch('reset_password', async () => {
    const user = await ctx.store.findUserByEmail(email);
    const active = user !== null && !user.disabled;
    // The same work whether or not the account exists: a token, its hash, the rendered mail.
    const token = newOpaqueToken();
    const tokenHash = hashToken(token);
    if (active) await storeToken(ctx, user.id, 'reset_password', tokenHash, ctx.config.mail.resetTokenTtlMs);
    const message = renderMail(ctx, 'reset_password', mailLocaleFor(ctx, user, meta), user?.email ?? email, {
      name: user?.name ?? null,
      link: linkTo(ctx, RESET_PASSWORD_PATH, token),
      valid_for: ctx.config.mail.resetTokenTtlMs,
    });
    if (!active) {
      ctx.log.info({ mail: 'reset_password' }, 'password reset asked for an address with no active account: no mail sent');
      return null;
    }
    await recordEvent(ctx, user.id, 'password_reset_requested', meta);
    return message;
  });
  return success(undefined);
}

/**
 * POST /auth/password/reset: spends the token, sets the new password and revokes every
 * session. A successful reset also marks the address verified: the user has just proved they
 * read mail sent to it.
 *
 * The order is what keeps it cheap to refuse: the policy, then a lookup of the token that does
 * not spend it (a bogus or spent token costs no hash, so nobody without a link can fill the hash
 * queue through this route), then the hash, then the atomic spend (exactly one of concurrent
 * uses wins). Hashing before spending means an overloaded hasher (503) leaves the link usable.
 */
export async function resetPassword(
  ctx: LatchkeyContext,
  token: string,
  newPassword: string,
  meta: RequestMeta,
): Promise<Outcome<void>> {
  const policy = checkPasswordPolicy('new_password', newPassword);
  if (policy) return invalid(policy);
  const tokenHash = hashToken(token);
  if (!(await ctx.store.findOneTimeToken(tokenHash, 'reset_password', ctx.clock()))) {
    return failure('TOKEN_INVALID', 'This password-reset link is invalid, already used or expired.');
  }
  const newHash = await ctx.hasher.hash(newPassword);
  const now = ctx.clock();
  const userId = await ctx.store.consumeOneTimeToken(tokenHash, 'reset_password', now);
  if (!userId) return failure('TOKEN_INVALID', 'This password-reset link is invalid, already used or expired.');
  if (!(await ctx.store.setPasswordHash(userId, newHash, now))) {
    return failure('TOKEN_INVALID', 'This password-reset link is invalid, already used or expired.');
  }
  const revoked = await ctx.store.revokeUserSessions(userId, 'password_reset', now);
  // Any other reset link still in a mailbox dies with this one.
  await ctx.store.deleteOneTimeTokens(userId, 'reset_password');
  const user = await ctx.store.findUserById(userId);
  if (user && !user.emailVerified) {
    await ctx.store.updateUser(userId, { emailVerified: true }, now);
    await ctx.store.deleteOneTimeTokens(userId, 'verify_email');
  }
  await recordEvent(ctx, userId, 'password_reset', meta, { sessions_revoked: revoked });
  return success(undefined);
}
