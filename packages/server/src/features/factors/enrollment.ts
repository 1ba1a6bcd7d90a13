/**
 * The MFA_REQUIRED_ROLES policy (docs/factors.md, "Required second factor"): a user holding one
 * of those roles gets no session from a password alone. With a factor they answer the usual
 * challenge; without one, login answers an enrolment token (`mfa_enrollment`, a purpose of its
 * own: it is refused at /auth/mfa/verify and a challenge token is refused here), and the user
 * enrols a TOTP authenticator or a passkey with it; the enrolment that completes spends it and
 * starts the session.
 *
 * The policy is read at sign-in: a user given such a role while signed in keeps their session
 * until their next sign-in (refresh does not re-check it; the hot path stays one row read).
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken } from '../../lib/ids.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import type { AuthUser, UserRecord } from '../../store/types.js';
import { signIn, type IssuedTokens } from '../sessions/service.js';
import { finishPasskeyRegistration, passkeyAmr, startPasskeyRegistration, type PublicPasskey } from './passkey-service.js';
import type { RegistrationResponseJSON } from './passkeys.js';
import { mfaRequiredFor } from './policy.js';
import { AMR_PASSWORD_OTP, challengeTokenFor, firstFactorOf, confirmTotp, enrolTotp, type ChallengeMethod, type PublicFactor } from './service.js';

/** The answer of a login whose user must enrol a second factor first. */
export interface MfaEnrollmentChallenge {
  mfa_enrollment_required: true;
  mfa_token: string;
  expires_in: number;
}

/**
 * What the policy asks of a login that has no active TOTP: nothing (`null`: the role does not
 * require a factor), the passkey step (the user has a passkey), or an enrolment.
 *
 * @example
 * const demand = await policyDemand(ctx, user);
 * if (demand === 'enroll') return issueEnrollmentChallenge(ctx, user.id);
 */
export async function policyDemand(ctx: LatchkeyContext, user: Pick<AuthUser, 'id' | 'roles'>): Promise<ChallengeMethod[] | 'enroll' | null> {
  if (!mfaRequiredFor(ctx.config.factors, user)) return null;
  // A passkey is a second factor here: the password then the passkey, as at /auth/mfa/verify.
  return (await ctx.store.listPasskeys(user.id)).length > 0 ? ['passkey'] : 'enroll';
}

/** A short-lived (MFA_CHALLENGE_TTL), single-use enrolment token bound to the user, stored hashed. */
export async function issueEnrollmentChallenge(ctx: LatchkeyContext, userId: string, firstFactor: readonly string[] = ['pwd']): Promise<MfaEnrollmentChallenge> {
  // After a social or email sign-in the session will say `fed` or `email`, as for a challenge (service.ts).
  const token = challengeTokenFor(firstFactor);
  const now = ctx.clock();
  const ttl = ctx.config.factors.mfaChallengeTtlMs;
  await ctx.store.createOneTimeToken({ tokenHash: hashToken(token), userId, purpose: 'mfa_enrollment', createdAt: now, expiresAt: now + ttl });
  return { mfa_enrollment_required: true, mfa_token: token, expires_in: Math.floor(ttl / 1000) };
}

const ENROLLMENT_TOKEN_INVALID: Readonly<Failure> = Object.freeze(
  failure('MFA_TOKEN_INVALID', 'The mfa_token is unknown, used, expired or not an enrolment token; log in again with POST /auth/login.'),
);

/** The user of a live enrolment token (not spent), refused when disabled. */
async function enrollingUser(ctx: LatchkeyContext, mfaToken: string): Promise<Outcome<UserRecord>> {
  const userId = await ctx.store.findOneTimeToken(hashToken(mfaToken), 'mfa_enrollment', ctx.clock());
  if (!userId) return ENROLLMENT_TOKEN_INVALID;
  const user = await ctx.store.findUserById(userId);
  if (!user) return ENROLLMENT_TOKEN_INVALID;
  if (user.disabled) return failure('ACCOUNT_DISABLED', 'This account has been disabled.');
  return success(user);
}

/**
 * Spends the enrolment token and starts the session. Of two completions with one token (a TOTP
 * and a passkey at once) one gets the session; the other's factor stays enrolled, and its user
 * signs in with it next time.
 */
async function completeEnrollment(
  ctx: LatchkeyContext,
  mfaToken: string,
  user: UserRecord,
  meta: RequestMeta,
  amr: readonly string[],
  method: string,
): Promise<Outcome<IssuedTokens>> {
  if ((await ctx.store.consumeOneTimeToken(hashToken(mfaToken), 'mfa_enrollment', ctx.clock())) !== user.id) return ENROLLMENT_TOKEN_INVALID;
  return success(await signIn(ctx, user, meta, firstFactorOf(mfaToken, amr), { second_factor: method, enrolled: true }));
}

/** POST /auth/mfa/enroll/totp: a new authenticator secret for the token's user (the token is not spent). */
export async function startEnrollmentTotp(
  ctx: LatchkeyContext,
  mfaToken: string,
  meta: RequestMeta,
): Promise<Outcome<{ factor: PublicFactor; secret: string; otpauth_uri: string; qr_code: string }>> {
  const user = await enrollingUser(ctx, mfaToken);
  if (!user.ok) return user;
  return enrolTotp(ctx, user.value, meta);
}

/**
 * POST /auth/mfa/enroll/totp/confirm: activates the authenticator with its first code (a wrong
 * code counts toward the lockout and leaves the token usable), then signs in: amr pwd+otp+mfa,
 * and the recovery codes, shown this once.
 */
export async function confirmEnrollmentTotp(
  ctx: LatchkeyContext,
  mfaToken: string,
  code: string,
  meta: RequestMeta,
): Promise<Outcome<{ tokens: IssuedTokens; recovery_codes: string[] }>> {
  const user = await enrollingUser(ctx, mfaToken);
  if (!user.ok) return user;
  const confirmed = await confirmTotp(ctx, user.value, code, meta);
  if (!confirmed.ok) return confirmed;
  const tokens = await completeEnrollment(ctx, mfaToken, user.value, meta, AMR_PASSWORD_OTP, 'totp');
  if (!tokens.ok) return tokens;
  return success({ tokens: tokens.value, recovery_codes: confirmed.value.recovery_codes });
}

/** POST /auth/mfa/enroll/passkey/options: creation options for the token's user (the token is not spent). */
export async function startEnrollmentPasskey(ctx: LatchkeyContext, mfaToken: string): Promise<Outcome<{ options: object }>> {
  const user = await enrollingUser(ctx, mfaToken);
  if (!user.ok) return user;
  return success(await startPasskeyRegistration(ctx, user.value));
}

/**
 * POST /auth/mfa/enroll/passkey: registers the passkey, then signs in with amr pwd + hwk/swk +
 * mfa (the password, then a key created on the user's device in this ceremony).
 */
export async function finishEnrollmentPasskey(
  ctx: LatchkeyContext,
  mfaToken: string,
  response: RegistrationResponseJSON,
  name: string | undefined,
  meta: RequestMeta,
): Promise<Outcome<{ tokens: IssuedTokens; passkey: PublicPasskey }>> {
  const user = await enrollingUser(ctx, mfaToken);
  if (!user.ok) return user;
  const registered = await finishPasskeyRegistration(ctx, user.value, response, name, meta);
  if (!registered.ok) return registered;
  const [key] = passkeyAmr({ deviceType: registered.value.passkey.device_type, userVerified: false });
  const tokens = await completeEnrollment(ctx, mfaToken, user.value, meta, ['pwd', key!, 'mfa'], 'passkey');
  if (!tokens.ok) return tokens;
  return success({ tokens: tokens.value, passkey: registered.value.passkey });
}
