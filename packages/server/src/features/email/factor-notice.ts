import type { LatchkeyContext } from '../../context.js';
import type { AuthUser } from '../../store/types.js';
import { mailLocaleFor, renderMail } from './render.js';
import type { TemplateName } from './template-names.js';

/** A change to a user's second factors, as the notice mail names it (docs/factors.md, "Mails"). */
export type FactorChange =
  | 'totp_added'
  | 'totp_removed'
  | 'passkey_added'
  | 'passkey_removed'
  | 'recovery_codes_regenerated'
  | 'factors_reset_by_admin';

const TEMPLATE_OF: Record<FactorChange, TemplateName> = {
  totp_added: 'factor_totp_added',
  totp_removed: 'factor_totp_removed',
  passkey_added: 'factor_passkey_added',
  passkey_removed: 'factor_passkey_removed',
  recovery_codes_regenerated: 'factor_recovery_codes_regenerated',
  factors_reset_by_admin: 'factor_reset_by_admin',
};

/**
 * Mails the user that a second factor changed (docs/factors.md, "Mails"), in the background:
 * the request that made the change is answered whatever the mail server does, and the message
 * holds no secret (no code, no token, no link but APP_URL). In the user's language, else
 * DEFAULT_LOCALE.
 *
 * @example
 * mailFactorChange(ctx, user, 'totp_added');
 */
export function mailFactorChange(ctx: LatchkeyContext, user: Pick<AuthUser, 'email' | 'name' | 'locale'>, change: FactorChange, passkeyName?: string): void {
  const at = ctx.clock();
  ctx.mail.dispatch('factor_changed', async () =>
    renderMail(ctx, TEMPLATE_OF[change], mailLocaleFor(ctx, user), user.email, { name: user.name, when: at, passkey_name: passkeyName?.slice(0, 64) ?? null }),
  );
}
