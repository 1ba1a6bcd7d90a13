import { failure, success, type LatchkeyContext, type Outcome, type RequestMeta } from '../../context.js';
import { newId } from '../../lib/ids.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import type { AuthUser, UserRecord } from '../../store/types.js';
import { refuseUnverifiedLogin, scheduleVerificationMail } from '../email/service.js';
import { recordEvent } from '../events/service.js';
import { startSession, type IssuedTokens } from '../sessions/service.js';

/** Emails are compared and stored trimmed and lower-cased: one account per address. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The user as every response shows it: never the hash. */
export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  email_verified: boolean;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

export function publicUser(u: AuthUser): PublicUser {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    roles: u.roles,
    email_verified: u.emailVerified,
    disabled: u.disabled,
    created_at: isoTime(u.createdAt),
    updated_at: isoTime(u.updatedAt),
  };
}

const isoTimes = new Map<number, string>();

/**
 * `new Date(ms).toISOString()`, remembered: the same users' timestamps are formatted on every
 * `GET /auth/me`, and the two Date objects and their formatting were about 2 % of it. Bounded:
 * emptied when it reaches 10,000 entries.
 */
function isoTime(ms: number): string {
  let iso = isoTimes.get(ms);
  if (iso === undefined) {
    if (isoTimes.size >= 10_000) isoTimes.clear();
    iso = new Date(ms).toISOString();
    isoTimes.set(ms, iso);
  }
  return iso;
}

export interface RegisterInput {
  email: string;
  password: string;
  name?: string | null | undefined;
}

export async function register(ctx: LatchkeyContext, input: RegisterInput, meta: RequestMeta): Promise<Outcome<UserRecord>> {
  const email = normaliseEmail(input.email);
  const policy = checkPasswordPolicy('password', input.password);
  if (policy) return failure('VALIDATION_FAILED', 'The password does not meet the policy.', [policy]);
  // Checked before hashing so that a duplicate costs no hash; the unique index still decides.
  if (await ctx.store.findUserByEmail(email)) return failure('EMAIL_TAKEN', 'An account with this email already exists.');
  const passwordHash = await ctx.hasher.hash(input.password);
  const user = await ctx.store.createUser({
    id: newId(),
    email,
    name: input.name?.trim() || null,
    passwordHash,
    roles: [],
    emailVerified: false,
    createdAt: ctx.clock(),
  });
  if (!user) return failure('EMAIL_TAKEN', 'An account with this email already exists.');
  await recordEvent(ctx, user.id, 'register', meta);
  // In the background, after the commit: the account exists whatever the mail server does.
  scheduleVerificationMail(ctx, user);
  return success(user);
}

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
    return failure('INVALID_CREDENTIALS');
  }
  const result = await ctx.hasher.verify(user.passwordHash, password);
  if (result.unusable) {
    // Not verified (a dummy verification was spent instead): only a password reset helps this user.
    ctx.log.warn({ userId: user.id, reason: result.unusable }, 'stored password hash is outside the accepted costs; the user must reset their password');
  }
  if (!result.ok) return failure('INVALID_CREDENTIALS');
  if (result.needsRehash) scheduleRehash(ctx, user, password);
  return success(user);
}

/** Upgrades a legacy or weaker hash after a successful login, off the response path. */
function scheduleRehash(ctx: LatchkeyContext, user: UserRecord, password: string): void {
  void (async () => {
    const newHash = await ctx.hasher.hash(password);
    const replaced = await ctx.store.replacePasswordHash(user.id, user.passwordHash, newHash, ctx.clock());
    if (replaced) ctx.log.info({ userId: user.id }, 'password hash upgraded to argon2id');
  })().catch((err: unknown) => ctx.log.warn({ err, userId: user.id }, 'password rehash failed'));
}

export async function login(
  ctx: LatchkeyContext,
  email: string,
  password: string,
  meta: RequestMeta,
): Promise<Outcome<{ user: UserRecord; tokens: IssuedTokens }>> {
  const key = normaliseEmail(email);
  const locked = await backoffCheck(ctx, key, meta);
  if (locked > 0) {
    ctx.metrics.logins.inc({ result: 'locked' });
    ctx.metrics.rateLimited.inc({ bucket: 'backoff' });
    return { ...failure('RATE_LIMITED', `Too many failed logins; retry in ${locked} s.`), retryAfter: locked };
  }
  const checked = await checkCredentials(ctx, email, password);
  if (!checked.ok) {
    ctx.metrics.logins.inc({ result: 'failed' });
    const known = await ctx.store.findUserByEmail(key);
    if (known) await recordEvent(ctx, known.id, 'login_failed', meta);
    const lock = await backoffFail(ctx, key, meta);
    if (lock.retryAfter > 0 && known) {
      await recordEvent(ctx, known.id, 'login_backoff', meta, { failures: lock.failures, retry_after: lock.retryAfter });
    }
    return checked;
  }
  await ctx.backoff.succeed(key, meta.ip).catch(() => undefined);
  const user = checked.value;
  if (user.disabled) {
    ctx.metrics.logins.inc({ result: 'disabled' });
    return failure('ACCOUNT_DISABLED', 'This account has been disabled.');
  }
  if (ctx.config.requireVerifiedEmail && !user.emailVerified) {
    ctx.metrics.logins.inc({ result: 'unverified' });
    return refuseUnverifiedLogin(ctx, user);
  }
  const tokens = await startSession(ctx, user, meta);
  ctx.metrics.logins.inc({ result: 'succeeded' });
  await recordEvent(ctx, user.id, 'login_succeeded', meta, { session_id: tokens.session_id });
  return success({ user, tokens });
}

/**
 * Seconds the (account, client IP) pair is still locked by the login backoff; 0 when it is not
 * (or rate limiting is off). Fails open: an unreachable counter store must not stop logins. Also
 * used by change-password, whose wrong current passwords count toward the same lock.
 *
 * @example
 * const locked = await backoffCheck(ctx, 'ann@example.com', requestMeta(request));
 * if (locked > 0) return { ...failure('RATE_LIMITED'), retryAfter: locked };
 */
export async function backoffCheck(ctx: LatchkeyContext, email: string, meta: RequestMeta): Promise<number> {
  if (!ctx.config.rateLimitEnabled) return 0;
  try {
    return (await ctx.backoff.check(email, meta.ip)).retryAfter;
  } catch (err) {
    ctx.log.warn({ err: { message: (err as Error).message } }, 'login backoff unavailable; attempt allowed');
    return 0;
  }
}

/**
 * Counts a failed password check of the (account, client IP) pair; returns the lock it triggered
 * (`retryAfter` > 0) and the failures so far. Fails open like `backoffCheck`.
 *
 * @example
 * const lock = await backoffFail(ctx, 'ann@example.com', requestMeta(request));
 */
export async function backoffFail(ctx: LatchkeyContext, email: string, meta: RequestMeta) {
  if (!ctx.config.rateLimitEnabled) return { retryAfter: 0, failures: 0 };
  try {
    return await ctx.backoff.fail(email, meta.ip);
  } catch (err) {
    ctx.log.warn({ err: { message: (err as Error).message } }, 'login backoff unavailable');
    return { retryAfter: 0, failures: 0 };
  }
}

export async function updateProfile(
  ctx: LatchkeyContext,
  userId: string,
  patch: { name?: string | null | undefined },
): Promise<Outcome<UserRecord>> {
  const name = patch.name === undefined ? undefined : patch.name?.trim() || null;
  const user = await ctx.store.updateUser(userId, name === undefined ? {} : { name }, ctx.clock());
  if (!user) return failure('NOT_FOUND', 'The user no longer exists.');
  return success(user);
}
