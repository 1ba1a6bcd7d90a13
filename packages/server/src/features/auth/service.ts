import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, retryLater, success, type Outcome } from '../../outcome.js';
import type { UserRecord } from '../../store/types.js';
import { mailVerificationAfterRegister, refuseUnverifiedLogin } from '../email/service.js';
import { recordEvent } from '../events/service.js';
import { issueEnrollmentChallenge, policyDemand, type MfaEnrollmentChallenge } from '../factors/enrollment.js';
import { challengeMethods, issueMfaChallenge, type MfaChallenge } from '../factors/service.js';
import { backoffCheck, backoffFail } from '../ratelimit/login-backoff.js';
import { AMR_PASSWORD, signIn, type IssuedTokens } from '../sessions/service.js';
import { normaliseEmail } from '../users/fields.js';
import { createUser } from '../users/service.js';

export interface RegisterInput {
  email: string;
  password: string;
  name?: string | null | undefined;
}

/**
 * POST /auth/register: a new user without roles (created by the users room), recorded as a
 * security event, and a verification mail sent in the background.
 */
export async function register(ctx: LatchkeyContext, input: RegisterInput, meta: RequestMeta): Promise<Outcome<UserRecord>> {
  const created = await createUser(ctx, { email: input.email, password: input.password, name: input.name });
  if (!created.ok) return created;
  const user = created.value;
  await recordEvent(ctx, user.id, 'register', meta);
  // Delivered in the background, after the commit: the account exists whatever the mail server
  // does. It counts toward the once-a-minute limit of verification mails.
  await mailVerificationAfterRegister(ctx, user);
  return success(user);
}

/** The detail of a refused sign-in: the same sentence for an unknown email and a wrong password. */
const WRONG_CREDENTIALS = 'The email or password is incorrect.';

/**
 * Checks an email and password. Unknown email and wrong password give the same failure and
 * cost the same single hash verification, so neither the body nor the timing tells them apart.
 */
export async function checkCredentials(
  ctx: LatchkeyContext,
  emailInput: string,
  password: string,
): Promise<Outcome<UserRecord>> {
  const user = await ctx.store.findUserByEmail(normaliseEmail(emailInput));
  if (!user) {
    await ctx.hasher.verifyDummy(password);
    return failure('INVALID_CREDENTIALS', WRONG_CREDENTIALS);
  }
  const result = await ctx.hasher.verify(user.passwordHash, password);
  if (result.unusable) {
    // Not verified (a dummy verification was spent instead): only a password reset helps this user.
    ctx.log.warn({ userId: user.id, reason: result.unusable }, 'stored password hash is outside the accepted costs; the user must reset their password');
  }
  if (!result.ok) return failure('INVALID_CREDENTIALS', WRONG_CREDENTIALS);
  if (result.needsRehash) scheduleRehash(ctx, user, password);
  return success(user);
}

/** Upgrades a legacy or weaker hash after a successful login, off the response path. */
function scheduleRehash(ctx: LatchkeyContext, user: UserRecord, password: string): void {
  void (async () => {
    const newHash = await ctx.hasher.hash(password);
    // A rehash of the same password: no password.changed webhook.
    const replaced = await ctx.store.replacePasswordHash(user.id, user.passwordHash, newHash, ctx.clock(), true);
    if (replaced) ctx.log.info({ userId: user.id }, 'password hash upgraded to argon2id');
  })().catch((err: unknown) => ctx.log.warn({ err, userId: user.id }, 'password rehash failed'));
}

/** A login's result: signed in, or the password was right and a second factor is due. */
export type LoginResult =
  | { kind: 'signed_in'; user: UserRecord; tokens: IssuedTokens }
  | { kind: 'mfa_required'; user: UserRecord; challenge: MfaChallenge }
  | { kind: 'mfa_enrollment_required'; user: UserRecord; challenge: MfaEnrollmentChallenge };

export interface LoginOptions {
  /**
   * Whether the caller can answer a second-factor challenge (the JSON login). The OAuth2 password
   * form cannot: an account with a factor is refused there with MFA_REQUIRED (`invalid_grant`).
   */
  challenge: boolean;
}

export async function login(
  ctx: LatchkeyContext,
  email: string,
  password: string,
  meta: RequestMeta,
  options: LoginOptions = { challenge: true },
): Promise<Outcome<LoginResult>> {
  const key = normaliseEmail(email);
  const locked = await backoffCheck(ctx, key, meta);
  if (locked > 0) {
    ctx.metrics.logins.inc({ result: 'locked' });
    ctx.metrics.rateLimited.inc({ bucket: 'backoff' });
    return retryLater('RATE_LIMITED', `Too many failed logins; retry in ${locked} s.`, locked);
  }
  const checked = await checkCredentials(ctx, email, password);
  if (!checked.ok) {
    ctx.metrics.logins.inc({ result: 'failed' });
    const known = await ctx.store.findUserByEmail(key);
    if (known) await recordEvent(ctx, known.id, 'login_failed', meta);
    const lock = await backoffFail(ctx, key, meta);
    if (lock.retryAfter > 0) {
      if (known) await recordEvent(ctx, known.id, 'login_backoff', meta, { failures: lock.failures, retry_after: lock.retryAfter });
      // The failure that engages the lock already says so: the next attempt would be refused
      // anyway, and a client that shows the wait now needs no extra round trip to learn it. It
      // tells nothing about the account: the lock keys on (email, IP) whether or not it exists.
      return retryLater('RATE_LIMITED', `Too many failed logins; retry in ${lock.retryAfter} s.`, lock.retryAfter);
    }
    return checked;
  }
  return completeSignIn(ctx, checked.value, meta, AMR_PASSWORD, options, () => clearBackoff(ctx, key, meta));
}

/**
 * What follows a proved first factor, the same for every way in (a password here, a social
 * sign-in in features/social): a disabled account is refused, an unverified email is refused when
 * REQUIRE_VERIFIED_EMAIL says so, an account with a second factor gets the MFA challenge, and
 * otherwise a session with `amr`. `settled` runs where the first factor's failure count may be
 * cleared (not before a second factor: else a password holder could alternate logins and wrong
 * codes forever without meeting the lock; the second factor clears it).
 *
 * @example
 * const result = await completeSignIn(ctx, user, meta, AMR_FEDERATED, { challenge: true });
 */
export async function completeSignIn(
  ctx: LatchkeyContext,
  user: UserRecord,
  meta: RequestMeta,
  amr: readonly string[],
  options: LoginOptions = { challenge: true },
  settled: () => Promise<void> = async () => undefined,
): Promise<Outcome<LoginResult>> {
  if (user.disabled) {
    ctx.metrics.logins.inc({ result: 'disabled' });
    await settled();
    return failure('ACCOUNT_DISABLED', 'This account has been disabled.');
  }
  if (ctx.config.mail.requireVerifiedEmail && !user.emailVerified) {
    ctx.metrics.logins.inc({ result: 'unverified' });
    await settled();
    return refuseUnverifiedLogin(ctx, user);
  }
  let methods = await challengeMethods(ctx, user.id);
  if (methods.length === 0) {
    // MFA_REQUIRED_ROLES: a passkey answers the challenge; without any factor the user enrols one.
    const demand = await policyDemand(ctx, user);
    if (demand === 'enroll') {
      ctx.metrics.logins.inc({ result: 'mfa_required' });
      if (!options.challenge) {
        return failure(
          'MFA_ENROLLMENT_REQUIRED',
          'This account must add a second factor first: log in with JSON POST /auth/login and enrol (docs/factors.md).',
        );
      }
      return success({ kind: 'mfa_enrollment_required', user, challenge: await issueEnrollmentChallenge(ctx, user.id, amr) });
    }
    if (demand !== null) methods = demand;
  }
  if (methods.length > 0) {
    ctx.metrics.logins.inc({ result: 'mfa_required' });
    if (!options.challenge) {
      return failure(
        'MFA_REQUIRED',
        'This account has a second factor: log in with JSON POST /auth/login, then POST /auth/mfa/verify (docs/factors.md).',
      );
    }
    return success({ kind: 'mfa_required', user, challenge: await issueMfaChallenge(ctx, user.id, methods, amr) });
  }
  await settled();
  const tokens = await signIn(ctx, user, meta, amr);
  return success({ kind: 'signed_in', user, tokens });
}

/** A right password clears the (account, IP) failure count; fails open like the backoff itself. */
async function clearBackoff(ctx: LatchkeyContext, key: string, meta: RequestMeta): Promise<void> {
  await ctx.backoff.succeed(key, meta.ip).catch(() => undefined);
}
