/**
 * Invitations: an admin makes an account without a password (features/users createInvitedUser)
 * and its owner chooses one through a mailed single-use link, `APP_URL/accept-invite?token=…`,
 * valid INVITE_TTL (default 7 days). Accepting sets the password and marks the address verified
 * (the link proved the mailbox) and signs nothing in: the user then logs in like anyone else, so
 * that a login is the one place where a session starts (the backoff, REQUIRE_VERIFIED_EMAIL, the
 * login event). Invitation tokens have their own purpose: a reset link cannot accept an
 * invitation, nor an invitation link reset a password.
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newOpaqueToken } from '../../lib/ids.js';
import { failure, success, type Outcome } from '../../outcome.js';
import { isInvitationPending, NO_PASSWORD_HASH } from '../../passwords/no-password.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import type { AuthUser, UserRecord } from '../../store/types.js';
import { recordEvent } from '../events/service.js';
import { mailLocaleFor, renderMail } from './render.js';
import { RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS, linkTo, mailThrottled, storeToken, throttle } from './service.js';

/** Web-app path of the invitation link, below APP_URL; the token is the `token` query parameter. */
export const ACCEPT_INVITE_PATH = 'accept-invite';

const INVALID_LINK = 'This invitation link is invalid, already used or expired.';

/**
 * Mails an invitation link to an account without a password, in the background. A new link
 * replaces the previous one (which stops working). At most RESET_MAIL_LIMIT invitation mails per
 * address per RESET_MAIL_WINDOW_MS, as for reset mails (429 with Retry-After): an admin's
 * repeated clicks cannot flood the inbox.
 *
 * @example
 * const sent = await sendInvite(ctx, invited.user);
 * if (!sent.ok) return sent; // RATE_LIMITED
 */
export async function sendInvite(ctx: LatchkeyContext, user: AuthUser): Promise<Outcome<void>> {
  const wait = await throttle(ctx, `mail:invite:${hashToken(user.email)}`, RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS);
  if (wait > 0) return mailThrottled(wait);
  const ttl = ctx.config.mail.inviteTtlMs;
  ctx.mail.dispatch('invite', async () => {
    const token = newOpaqueToken();
    // Only the hash is stored, replacing any earlier invitation of this user.
    await storeToken(ctx, user.id, 'invite', hashToken(token), ttl);
    // The admin's request is not the invitee's: their locale (set at invitation) else DEFAULT_LOCALE.
    return renderMail(ctx, 'invite', mailLocaleFor(ctx, user), user.email, { name: user.name, link: linkTo(ctx, ACCEPT_INVITE_PATH, token), valid_for: ttl });
  });
  return success(undefined);
}

/**
 * POST /auth/invite/accept: spends the invitation token, sets the password, marks the address
 * verified. Refusing is cheap, as at password reset: the policy, then a lookup of the token that
 * does not spend it (a bogus token costs no hash), then the hash, then the atomic spend. The
 * password is set only over the no-password marker (compare-and-set), so an account that got a
 * password meanwhile (through a reset link) is not overwritten by an old invitation.
 *
 * @example
 * const user = unwrap(await acceptInvite(ctx, body.token, body.password, requestMeta(request)));
 */
export async function acceptInvite(ctx: LatchkeyContext, token: string, password: string, meta: RequestMeta): Promise<Outcome<UserRecord>> {
  const policy = checkPasswordPolicy('password', password);
  if (policy) return failure('VALIDATION_FAILED', 'The password does not meet the policy.', [policy]);
  const tokenHash = hashToken(token);
  const owner = await ctx.store.findOneTimeToken(tokenHash, 'invite', ctx.clock());
  if (!owner) return failure('TOKEN_INVALID', INVALID_LINK);
  const newHash = await ctx.hasher.hash(password);
  const now = ctx.clock();
  const userId = await ctx.store.consumeOneTimeToken(tokenHash, 'invite', now);
  if (!userId) return failure('TOKEN_INVALID', INVALID_LINK);
  if (!(await ctx.store.replacePasswordHash(userId, NO_PASSWORD_HASH, newHash, now))) {
    return failure('TOKEN_INVALID', 'This invitation was already accepted: sign in, or reset your password.');
  }
  const user = await ctx.store.updateUser(userId, { emailVerified: true }, now);
  if (!user) return failure('TOKEN_INVALID', INVALID_LINK);
  // Other invitation links, and any verification link, have nothing left to do.
  await ctx.store.deleteOneTimeTokens(userId, 'invite');
  await ctx.store.deleteOneTimeTokens(userId, 'verify_email');
  await recordEvent(ctx, userId, 'invite_accepted', meta);
  return success(user);
}

/** Whether an account is still waiting for its invitation to be accepted (it has no password). */
export function invitePending(user: Pick<UserRecord, 'passwordHash'>): boolean {
  return isInvitationPending(user.passwordHash);
}
