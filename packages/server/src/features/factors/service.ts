/**
 * Second factors (docs/factors.md): enrolling, confirming and removing a TOTP authenticator,
 * recovery codes, and the proof of a factor that login and the sensitive changes ask for.
 *
 * Every wrong code counts toward the login backoff (features/ratelimit/login-backoff.ts) twice:
 * for the (account, client IP) pair, the lock a failed password counts toward, and for the
 * account alone, so that codes guessed from many addresses still meet a lock. Only someone who
 * knows the password reaches a code prompt, so the account-wide lock cannot be used to lock out
 * a stranger's account; it caps guesses at a few per LOGIN_FAILURE_WINDOW instead.
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newId, newOpaqueToken } from '../../lib/ids.js';
import { failure, retryLater, success, type Failure, type Outcome } from '../../outcome.js';
import type { AuthUser, FactorRecord, UserRecord } from '../../store/types.js';
import { mailFactorChange } from '../email/factor-notice.js';
import { recordEvent } from '../events/service.js';
import { backoffCheck, backoffFail } from '../ratelimit/login-backoff.js';
import type { AuthState } from '../sessions/authenticate.js';
import { signIn, type IssuedTokens } from '../sessions/service.js';
import { PASSKEY_NOT_FOUND, provePasskeyFactor } from './passkey-service.js';
import { mfaRequiredFor } from './policy.js';
import type { AuthenticationResponseJSON } from './passkeys.js';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from './recovery-codes.js';
import { requireRecentAuthentication } from './step-up.js';
import { matchTotpStep, newTotpSecret, otpauthUri, qrCodeDataUrl } from './totp.js';

/** The ways to answer a login's second-factor challenge, as `factors` lists them. */
export type ChallengeMethod = 'totp' | 'recovery_code' | 'passkey';

/** A second factor as the API shows it to its owner. */
export interface PublicFactor {
  id: string;
  type: 'totp';
  status: 'pending' | 'active';
  created_at: string;
  confirmed_at: string | null;
  last_used_at: string | null;
}

/** What a code-protected request sends: one of a current TOTP code or a recovery code. */
export interface FactorProof {
  code?: string | undefined;
  recovery_code?: string | undefined;
  /** An assertion of one of the user's passkeys (the login's second-factor step only). */
  passkey?: AuthenticationResponseJSON | undefined;
}

/** The answer of a login that needs a second factor (docs/factors.md). */
export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
  factors: ChallengeMethod[];
  expires_in: number;
}

/** RFC 8176 `amr` of a password and a one-time code (TOTP or recovery code). */
export const AMR_PASSWORD_OTP: readonly string[] = Object.freeze(['pwd', 'otp', 'mfa']);

/**
 * The mfa_token of a challenge whose first factor was not a password starts with a prefix naming
 * it, so that the session says `fed` (a social sign-in, docs/social-login.md) or `email` (an email
 * sign-in, docs/email.md), not `pwd`, beside the second factor. Only the token's hash is stored,
 * so the prefix cannot be changed without losing the token.
 */
export const FEDERATED_CHALLENGE_PREFIX = 'fed.';
export const EMAIL_CHALLENGE_PREFIX = 'email.';

/**
 * A new challenge or enrolment token carrying the first factor of the sign-in it continues.
 *
 * @example
 * challengeTokenFor(['email']); // 'email.' + 43 random characters
 */
export function challengeTokenFor(firstFactor: readonly string[]): string {
  if (firstFactor.includes('fed')) return FEDERATED_CHALLENGE_PREFIX + newOpaqueToken();
  if (firstFactor.includes('email')) return EMAIL_CHALLENGE_PREFIX + newOpaqueToken();
  return newOpaqueToken();
}

/** The session's amr for a challenge token: `fed` or `email` in place of `pwd` when the token says so. */
export function firstFactorOf(mfaToken: string, amr: readonly string[]): readonly string[] {
  const first = mfaToken.startsWith(FEDERATED_CHALLENGE_PREFIX) ? 'fed' : mfaToken.startsWith(EMAIL_CHALLENGE_PREFIX) ? 'email' : null;
  return first === null ? amr : amr.map((m) => (m === 'pwd' ? first : m));
}

/** The backoff key of the account-wide lock: a space never occurs in a normalised email. */
function accountKey(userId: string): string {
  return `factors ${userId}`;
}
const NO_CLIENT: RequestMeta = Object.freeze({ ip: null, userAgent: null });

const WRONG_CODE = 'The code is wrong, expired or already used.';

/** The additional data a TOTP secret is sealed with: a sealed secret copied to another row does not open. */
function sealContext(factorId: string): string {
  return `factors:${factorId}`;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function publicFactor(f: FactorRecord): PublicFactor {
  return {
    id: f.id,
    type: f.kind,
    status: f.confirmedAt === null ? 'pending' : 'active',
    created_at: iso(f.createdAt)!,
    confirmed_at: iso(f.confirmedAt),
    last_used_at: iso(f.lastUsedAt),
  };
}

export function activeTotp(factors: readonly FactorRecord[]): FactorRecord | undefined {
  return factors.find((f) => f.kind === 'totp' && f.confirmedAt !== null);
}

/**
 * The methods a login of this user must answer with before it gets tokens; none when the user
 * has no active factor.
 *
 * @example
 * const methods = await challengeMethods(ctx, user.id);
 * if (methods.length > 0) return issueMfaChallenge(ctx, user.id, methods);
 */
export async function challengeMethods(ctx: LatchkeyContext, userId: string): Promise<ChallengeMethod[]> {
  if (!activeTotp(await ctx.store.listFactors(userId))) return [];
  // Passkeys alone do not turn the second factor on (docs/passkeys.md); with it on, they answer it.
  return (await ctx.store.listPasskeys(userId)).length > 0 ? ['totp', 'recovery_code', 'passkey'] : ['totp', 'recovery_code'];
}

/** The caller's factors and how many recovery codes are left (GET /auth/factors). */
export async function listOwnFactors(ctx: LatchkeyContext, userId: string): Promise<{ factors: PublicFactor[]; recovery_codes_left: number }> {
  const [factors, left] = await Promise.all([ctx.store.listFactors(userId), ctx.store.countRecoveryCodes(userId)]);
  return { factors: factors.map(publicFactor), recovery_codes_left: left };
}

/**
 * Starts a TOTP enrolment: a new secret (sealed at rest), its otpauth:// URI and QR code. The
 * factor stays pending until `confirmTotp`; starting again replaces a pending one.
 */
export async function enrolTotp(
  ctx: LatchkeyContext,
  user: AuthUser,
  meta: RequestMeta,
): Promise<Outcome<{ factor: PublicFactor; secret: string; otpauth_uri: string; qr_code: string }>> {
  const secret = newTotpSecret();
  const id = newId();
  const now = ctx.clock();
  const stored = ctx.secrets.store(secret, sealContext(id));
  if (!(await ctx.store.putPendingFactor({ id, userId: user.id, kind: 'totp', secret: stored, createdAt: now }))) {
    return failure('FACTOR_ALREADY_ENROLLED', 'An authenticator is already active; remove it (DELETE /auth/factors/totp) to enrol another.');
  }
  await recordEvent(ctx, user.id, 'factor_enrolled', meta, { factor_id: id, type: 'totp' });
  const uri = otpauthUri(secret, user.email, ctx.config.mail.productName);
  const factor = publicFactor({ id, userId: user.id, kind: 'totp', secret: stored, createdAt: now, confirmedAt: null, lastUsedStep: null, lastUsedAt: null });
  return success({ factor, secret, otpauth_uri: uri, qr_code: qrCodeDataUrl(uri) });
}

/**
 * Activates the pending TOTP factor with its first code and answers the new recovery codes,
 * shown this once. A wrong code counts toward the lockout.
 */
export async function confirmTotp(
  ctx: LatchkeyContext,
  user: AuthUser,
  code: string,
  meta: RequestMeta,
): Promise<Outcome<{ factor: PublicFactor; recovery_codes: string[] }>> {
  const locked = await lockedOut(ctx, user, meta);
  if (locked) return locked;
  const pending = (await ctx.store.listFactors(user.id)).find((f) => f.kind === 'totp' && f.confirmedAt === null);
  if (!pending) return failure('NOT_FOUND', 'No authenticator enrolment is pending; start one with POST /auth/factors/totp.');
  const now = ctx.clock();
  const step = matchTotpStep(openSecret(ctx, pending), code, now);
  if (step === null) return wrongCode(ctx, user, meta);
  const codes = newRecoveryCodes();
  const hashes = codes.map((c) => hashRecoveryCode(user.id, normaliseRecoveryCode(c)!));
  // A concurrent confirmation, or a removal, came first.
  if (!(await ctx.store.confirmFactor(user.id, pending.id, step, now, hashes))) {
    return failure('NOT_FOUND', 'No authenticator enrolment is pending; start one with POST /auth/factors/totp.');
  }
  await clearLock(ctx, user, meta);
  await recordEvent(ctx, user.id, 'factor_confirmed', meta, { factor_id: pending.id, type: 'totp' });
  mailFactorChange(ctx, user, 'totp_added');
  return success({ factor: publicFactor({ ...pending, confirmedAt: now, lastUsedStep: step, lastUsedAt: now }), recovery_codes: codes });
}

/**
 * Removes the TOTP factor. A pending one goes at once; an active one needs a proof (a current
 * code, a recovery code, or a recent authentication: step-up.ts). The recovery codes go with
 * the last active factor.
 */
export async function removeTotp(ctx: LatchkeyContext, auth: AuthState, proof: FactorProof, meta: RequestMeta): Promise<Outcome<void>> {
  const factor = (await ctx.store.listFactors(auth.user.id)).find((f) => f.kind === 'totp');
  if (!factor) return failure('NOT_FOUND', 'No authenticator is enrolled.');
  if (factor.confirmedAt !== null && (await lastFactorUnderPolicy(ctx, auth.user, 'totp'))) return FACTOR_REQUIRED;
  if (factor.confirmedAt !== null) {
    const proved = await proveForChange(ctx, auth, proof, meta);
    if (!proved.ok) return proved;
  }
  if (!(await ctx.store.deleteFactor(auth.user.id, factor.id))) return failure('NOT_FOUND', 'No authenticator is enrolled.');
  await recordEvent(ctx, auth.user.id, 'factor_removed', meta, { factor_id: factor.id, type: 'totp' });
  // A pending enrolment never protected anything: only an active factor's removal is news.
  if (factor.confirmedAt !== null) mailFactorChange(ctx, auth.user, 'totp_removed');
  return success(undefined);
}

/** A new set of recovery codes (the old set stops working), shown this once; needs a proof as removal does. */
export async function regenerateRecoveryCodes(
  ctx: LatchkeyContext,
  auth: AuthState,
  proof: FactorProof,
  meta: RequestMeta,
): Promise<Outcome<{ recovery_codes: string[] }>> {
  if (!activeTotp(await ctx.store.listFactors(auth.user.id))) {
    return failure('NOT_FOUND', 'Recovery codes come with an active second factor; enrol one first.');
  }
  const proved = await proveForChange(ctx, auth, proof, meta);
  if (!proved.ok) return proved;
  const codes = newRecoveryCodes();
  await ctx.store.replaceRecoveryCodes(
    auth.user.id,
    codes.map((c) => hashRecoveryCode(auth.user.id, normaliseRecoveryCode(c)!)),
    ctx.clock(),
  );
  await recordEvent(ctx, auth.user.id, 'recovery_codes_regenerated', meta);
  mailFactorChange(ctx, auth.user, 'recovery_codes_regenerated');
  return success({ recovery_codes: codes });
}

/**
 * The answer of a login whose password was right but whose account has a second factor: a
 * short-lived (MFA_CHALLENGE_TTL), single-use token bound to the user, stored hashed.
 */
export async function issueMfaChallenge(
  ctx: LatchkeyContext,
  userId: string,
  methods: ChallengeMethod[],
  firstFactor: readonly string[] = ['pwd'],
): Promise<MfaChallenge> {
  const token = challengeTokenFor(firstFactor);
  const now = ctx.clock();
  const ttl = ctx.config.factors.mfaChallengeTtlMs;
  await ctx.store.createOneTimeToken({ tokenHash: hashToken(token), userId, purpose: 'mfa_challenge', createdAt: now, expiresAt: now + ttl });
  return { mfa_required: true, mfa_token: token, factors: methods, expires_in: Math.floor(ttl / 1000) };
}

const MFA_TOKEN_INVALID: Readonly<Failure> = Object.freeze(
  failure('MFA_TOKEN_INVALID', 'The mfa_token is unknown, used or expired; log in again with POST /auth/login.'),
);

/**
 * POST /auth/mfa/verify: the second half of a login. A wrong code leaves the mfa_token usable
 * (until it expires or the lockout engages); the right one spends it and starts the session as
 * a login does.
 */
export async function verifyMfaChallenge(
  ctx: LatchkeyContext,
  mfaToken: string,
  proof: FactorProof,
  meta: RequestMeta,
): Promise<Outcome<{ user: UserRecord; tokens: IssuedTokens }>> {
  const tokenHash = hashToken(mfaToken);
  const userId = await ctx.store.findOneTimeToken(tokenHash, 'mfa_challenge', ctx.clock());
  if (!userId) return MFA_TOKEN_INVALID;
  const user = await ctx.store.findUserById(userId);
  if (!user) return MFA_TOKEN_INVALID;
  if (user.disabled) return failure('ACCOUNT_DISABLED', 'This account has been disabled.');
  let amr: readonly string[] = AMR_PASSWORD_OTP;
  let method: ChallengeMethod;
  if (proof.passkey !== undefined) {
    if (proof.code !== undefined || proof.recovery_code !== undefined) {
      return failure('VALIDATION_FAILED', 'Send exactly one of code, recovery_code and passkey.', [
        { field: 'passkey', message: 'send exactly one of code, recovery_code and passkey' },
      ]);
    }
    // A passkey cannot be guessed: its failures are recorded (passkey_rejected) but do not count
    // toward the code lockout, and a lock on codes does not stop it.
    const proved = await provePasskeyFactor(ctx, user, proof.passkey, meta);
    if (!proved.ok) return proved;
    amr = proved.value;
    method = 'passkey';
  } else {
    const proved = await proveFactor(ctx, user, proof, meta);
    if (!proved.ok) return proved;
    method = proved.value;
  }
  // Spent only now: of two right answers sent at once with one token, one gets the session.
  if ((await ctx.store.consumeOneTimeToken(tokenHash, 'mfa_challenge', ctx.clock())) !== userId) return MFA_TOKEN_INVALID;
  amr = firstFactorOf(mfaToken, amr);
  const tokens = await signIn(ctx, user, meta, amr, { second_factor: method });
  return success({ user, tokens });
}

/**
 * The user of a live mfa_token, for the options of its passkey step (POST /auth/mfa/passkey/options);
 * the token is not spent.
 */
export async function mfaTokenUser(ctx: LatchkeyContext, mfaToken: string): Promise<Outcome<string>> {
  const userId = await ctx.store.findOneTimeToken(hashToken(mfaToken), 'mfa_challenge', ctx.clock());
  return userId ? success(userId) : MFA_TOKEN_INVALID;
}

/**
 * Removes a passkey, under the proof rule of removing a factor: a current code or recovery code,
 * or a recent authentication (step-up.ts). An account without TOTP has no code to send: it
 * reauthenticates with its password or a passkey.
 */
export async function removePasskey(ctx: LatchkeyContext, auth: AuthState, id: string, proof: FactorProof, meta: RequestMeta): Promise<Outcome<void>> {
  const passkey = (await ctx.store.listPasskeys(auth.user.id)).find((p) => p.id === id);
  if (!passkey) return PASSKEY_NOT_FOUND;
  if (await lastFactorUnderPolicy(ctx, auth.user, 'passkey')) return FACTOR_REQUIRED;
  const proved = await proveForChange(ctx, auth, proof, meta);
  if (!proved.ok) return proved;
  if (!(await ctx.store.deletePasskey(auth.user.id, id))) return PASSKEY_NOT_FOUND;
  await recordEvent(ctx, auth.user.id, 'passkey_removed', meta, { passkey_id: id });
  mailFactorChange(ctx, auth.user, 'passkey_removed', passkey.name);
  return success(undefined);
}

const FACTOR_REQUIRED: Readonly<Failure> = Object.freeze(
  failure(
    'FACTOR_REQUIRED_BY_POLICY',
    'Your role requires a second factor (MFA_REQUIRED_ROLES): add another authenticator or passkey before removing this one.',
  ),
);

/**
 * True when removing one factor of `kind` would leave a user of a MFA_REQUIRED_ROLES role with
 * none: the active TOTP when there is no passkey, or the only passkey when there is no active TOTP.
 */
async function lastFactorUnderPolicy(ctx: LatchkeyContext, user: Pick<AuthUser, 'id' | 'roles'>, kind: 'totp' | 'passkey'): Promise<boolean> {
  if (!mfaRequiredFor(ctx.config.factors, user)) return false;
  const [factors, passkeys] = await Promise.all([ctx.store.listFactors(user.id), ctx.store.listPasskeys(user.id)]);
  const totp = activeTotp(factors) ? 1 : 0;
  return kind === 'totp' ? passkeys.length === 0 : totp === 0 && passkeys.length <= 1;
}

/**
 * A proof for a sensitive change of a signed-in user: a code or recovery code in the body, or
 * else a recent authentication of the session (step-up.ts; REAUTHENTICATION_REQUIRED otherwise).
 */
async function proveForChange(ctx: LatchkeyContext, auth: AuthState, proof: FactorProof, meta: RequestMeta): Promise<Outcome<unknown>> {
  if (proof.code === undefined && proof.recovery_code === undefined) {
    return requireRecentAuthentication(ctx, auth, { alternative: ', or send code or recovery_code' });
  }
  return proveFactor(ctx, auth.user, proof, meta);
}

/**
 * Checks a TOTP code or spends a recovery code of the user, under the lockout: refused while
 * locked, a wrong code counted, a right one clears the count. Which method it was on success.
 */
export async function proveFactor(
  ctx: LatchkeyContext,
  user: Pick<AuthUser, 'id' | 'email'>,
  proof: FactorProof,
  meta: RequestMeta,
): Promise<Outcome<ChallengeMethod>> {
  if ((proof.code === undefined) === (proof.recovery_code === undefined)) {
    return failure('VALIDATION_FAILED', 'Send exactly one of code and recovery_code.', [
      { field: 'code', message: 'send exactly one of code and recovery_code' },
    ]);
  }
  const locked = await lockedOut(ctx, user, meta);
  if (locked) return locked;
  const now = ctx.clock();
  let method: ChallengeMethod;
  let ok: boolean;
  if (proof.code !== undefined) {
    method = 'totp';
    const factor = activeTotp(await ctx.store.listFactors(user.id));
    ok = factor !== undefined && (await acceptTotpCode(ctx, factor, proof.code, now));
  } else {
    method = 'recovery_code';
    const code = normaliseRecoveryCode(proof.recovery_code!);
    ok = code !== null && (await ctx.store.spendRecoveryCode(user.id, hashRecoveryCode(user.id, code), now));
  }
  if (!ok) return wrongCode(ctx, user, meta);
  await clearLock(ctx, user, meta);
  if (method === 'recovery_code') {
    await recordEvent(ctx, user.id, 'recovery_code_used', meta, { remaining: await ctx.store.countRecoveryCodes(user.id) });
  }
  return success(method);
}

/**
 * A TOTP code of an active factor, accepted once: its step must come after the last step used,
 * and recording it is the store's compare-and-set (`useTotpStep`), so of two requests with one
 * code only one passes.
 */
async function acceptTotpCode(ctx: LatchkeyContext, factor: FactorRecord, code: string, now: number): Promise<boolean> {
  const step = matchTotpStep(openSecret(ctx, factor), code, now);
  if (step === null) return false;
  if (factor.lastUsedStep !== null && step <= factor.lastUsedStep) return false;
  return ctx.store.useTotpStep(factor.id, step, now);
}

function openSecret(ctx: LatchkeyContext, factor: FactorRecord): string {
  return ctx.secrets.open(factor.secret, sealContext(factor.id));
}

/** RATE_LIMITED while either lock holds, else null. */
async function lockedOut(ctx: LatchkeyContext, user: Pick<AuthUser, 'id' | 'email'>, meta: RequestMeta): Promise<Failure | null> {
  const [pair, account] = await Promise.all([backoffCheck(ctx, user.email, meta), backoffCheck(ctx, accountKey(user.id), NO_CLIENT)]);
  const locked = Math.max(pair, account);
  if (locked === 0) return null;
  return retryLater('RATE_LIMITED', `Too many wrong codes; retry in ${locked} s.`, locked);
}

/**
 * Counts a wrong code toward both locks. When a lock engages, the user's outstanding login
 * challenges (and enrolment tokens) are deleted: the next try starts again from the password.
 */
async function wrongCode(ctx: LatchkeyContext, user: Pick<AuthUser, 'id' | 'email'>, meta: RequestMeta): Promise<Failure> {
  await recordEvent(ctx, user.id, 'mfa_failed', meta);
  const [pair, account] = await Promise.all([backoffFail(ctx, user.email, meta), backoffFail(ctx, accountKey(user.id), NO_CLIENT)]);
  const retryAfter = Math.max(pair.retryAfter, account.retryAfter);
  if (retryAfter > 0) {
    await ctx.store.deleteOneTimeTokens(user.id, 'mfa_challenge');
    // And the enrolment tokens of MFA_REQUIRED_ROLES: their first code counts the same way.
    await ctx.store.deleteOneTimeTokens(user.id, 'mfa_enrollment');
    await recordEvent(ctx, user.id, 'mfa_backoff', meta, { failures: Math.max(pair.failures, account.failures), retry_after: retryAfter });
  }
  return failure('INVALID_MFA_CODE', WRONG_CODE);
}

async function clearLock(ctx: LatchkeyContext, user: Pick<AuthUser, 'id' | 'email'>, meta: RequestMeta): Promise<void> {
  if (!ctx.config.rateLimit.rateLimitEnabled) return;
  await Promise.all([ctx.backoff.succeed(user.email, meta.ip), ctx.backoff.succeed(accountKey(user.id), null)]).catch(() => undefined);
}
