import type { LatchkeyContext } from '../../context.js';
import { hashToken, newOpaqueToken } from '../../lib/ids.js';
import { success, type Outcome } from '../../outcome.js';
import type { AuthUser } from '../../store/types.js';
import { mailLocaleFor, renderMail } from './render.js';
import { RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS, RESET_PASSWORD_PATH, linkTo, mailThrottled, storeToken, throttle } from './service.js';

/**
 * Mails a password-reset link to a known user, in the background: the same single-use token
 * (RESET_TOKEN_TTL) and the same mail as "forgot password", replacing any earlier reset link. It
 * counts against the same per-address limit (RESET_MAIL_LIMIT per RESET_MAIL_WINDOW_MS, 429 with
 * Retry-After past it), shared with forgot-password: however they are asked for, an inbox gets at
 * most 3 reset mails in 15 minutes. The caller (an admin action) records its own event.
 *
 * @example
 * const sent = await mailPasswordResetLink(ctx, user);
 * if (!sent.ok) return sent; // RATE_LIMITED
 */
export async function mailPasswordResetLink(ctx: LatchkeyContext, user: AuthUser): Promise<Outcome<void>> {
  const wait = await throttle(ctx, `mail:reset:${hashToken(user.email)}`, RESET_MAIL_LIMIT, RESET_MAIL_WINDOW_MS);
  if (wait > 0) return mailThrottled(wait);
  const ttl = ctx.config.mail.resetTokenTtlMs;
  ctx.mail.dispatch('reset_password', async () => {
    const token = newOpaqueToken();
    await storeToken(ctx, user.id, 'reset_password', hashToken(token), ttl);
    // An admin's action: the user's locale, else DEFAULT_LOCALE (not the admin's Accept-Language).
    return renderMail(ctx, 'reset_password', mailLocaleFor(ctx, user), user.email, { name: user.name, link: linkTo(ctx, RESET_PASSWORD_PATH, token), valid_for: ttl });
  });
  return success(undefined);
}
