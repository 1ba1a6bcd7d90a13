import type { LatchkeyContext } from '../../context.js';
import type { AuthUser } from '../../store/types.js';
import { brand } from './service.js';
import { factorNoticeMail, type FactorChange } from './templates.js';

/**
 * Mails the user that a second factor changed (docs/factors.md, "Mails"), in the background:
 * the request that made the change is answered whatever the mail server does, and the message
 * holds no secret (no code, no token, no link but APP_URL).
 *
 * @example
 * mailFactorChange(ctx, user, 'totp_added');
 */
export function mailFactorChange(ctx: LatchkeyContext, user: Pick<AuthUser, 'email' | 'name'>, change: FactorChange, passkeyName?: string): void {
  const at = ctx.clock();
  ctx.mail.dispatch('factor_changed', async () => factorNoticeMail(brand(ctx), { to: user.email, name: user.name, change, passkeyName, at }));
}
