/**
 * The MFA_REQUIRED_ROLES rule, alone in its file: login, passkey sign-in and factor removal read
 * it, and none of them needs the enrolment flow (enrollment.ts) to do so.
 */
import type { AuthUser } from '../../store/types.js';

/**
 * True when one of the user's roles is in MFA_REQUIRED_ROLES.
 *
 * @example
 * if (mfaRequiredFor(ctx.config.factors, user)) return failure('FACTOR_REQUIRED_BY_POLICY', ...);
 */
export function mfaRequiredFor(config: { mfaRequiredRoles: readonly string[] }, user: Pick<AuthUser, 'roles'>): boolean {
  return config.mfaRequiredRoles.length > 0 && user.roles.some((r) => config.mfaRequiredRoles.includes(r));
}
