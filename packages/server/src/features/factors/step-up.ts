/**
 * Step-up (docs/factors.md, "Step-up"): sensitive actions demand a recent authentication of the
 * session (its `auth_time` within STEP_UP_MAX_AGE), and POST /auth/reauthenticate renews it.
 *
 * The rule, one place for every route that enforces it:
 * - the session's `auth_time` is at most STEP_UP_MAX_AGE old, and
 * - for an account with an active second factor, the session's `amr` shows a factor
 *   (`otp`, `hwk`, `swk` or `mfa`): a password alone never counts for such an account, which is
 *   why its reauthentication takes a code, a recovery code or a passkey, and not the password.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify';
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failureToError } from '../../http/failures.js';
import { newOpaqueToken, hashToken } from '../../lib/ids.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import { hasNoPassword } from '../../passwords/no-password.js';
import { recordEvent } from '../events/service.js';
import type { AuthState } from '../sessions/authenticate.js';
import { proveCurrentPassword } from '../sessions/current-password.js';
import { tokensForSession, type IssuedTokens } from '../sessions/service.js';
import { provePasskeyReauthentication } from './passkey-service.js';
import type { AuthenticationResponseJSON } from './passkeys.js';
import { activeTotp, proveFactor } from './service.js';

/** What POST /auth/reauthenticate takes, as the 403's `methods` member names them. */
export type ReauthenticationMethod = 'password' | 'code' | 'recovery_code' | 'passkey';

/** A reauthentication's proof: exactly one member. */
export interface ReauthenticationProof {
  password?: string | undefined;
  code?: string | undefined;
  recovery_code?: string | undefined;
  passkey?: AuthenticationResponseJSON | undefined;
}

/** RFC 8176 values that show something held (an authenticator app, a passkey) took part. */
const FACTOR_AMR: readonly string[] = ['otp', 'hwk', 'swk', 'mfa'];
/** RFC 8176 values of something held, for `mfa` together with `pwd` (something known). */
const POSSESSION_AMR: readonly string[] = ['otp', 'hwk', 'swk'];
/**
 * A first factor: a password (`pwd`), a social sign-in (`fed`, docs/social-login.md) or an email
 * sign-in (`email`, docs/email.md: the mailbox, like a password, is one factor).
 */
const FIRST_FACTOR_AMR: readonly string[] = ['pwd', 'fed', 'email'];
/** The order `amr` lists values in, as the sign-ins write them (['pwd', 'otp', 'mfa']). */
const AMR_ORDER: readonly string[] = ['pwd', 'fed', 'email', 'otp', 'hwk', 'swk', 'mfa'];

/** What this account may reauthenticate with, and whether it has a second factor. */
export async function reauthenticationMethods(ctx: LatchkeyContext, userId: string): Promise<{ secondFactor: boolean; methods: ReauthenticationMethod[] }> {
  const [factors, passkeys, user] = await Promise.all([ctx.store.listFactors(userId), ctx.store.listPasskeys(userId), ctx.store.findUserById(userId)]);
  const secondFactor = activeTotp(factors) !== undefined;
  // An account from a social sign-in with no password of its own has none to offer: without a
  // factor or passkey it steps up by signing in again through its provider (docs/social-login.md).
  const hasPassword = user !== null && !hasNoPassword(user.passwordHash);
  const methods: ReauthenticationMethod[] = secondFactor ? ['code', 'recovery_code'] : hasPassword ? ['password'] : [];
  if (passkeys.length > 0) methods.push('passkey');
  return { secondFactor, methods };
}

function isRecent(ctx: LatchkeyContext, authTime: number): boolean {
  return ctx.clock() - authTime <= ctx.config.factors.stepUpMaxAgeMs;
}

function showsFactor(amr: readonly string[]): boolean {
  return amr.some((v) => FACTOR_AMR.includes(v));
}

/**
 * The 403 a sensitive action answers without a recent authentication: `max_age` (seconds) and
 * the `methods` POST /auth/reauthenticate accepts for this account let a client ask for the
 * right proof and retry.
 */
function reauthenticationRequired(ctx: LatchkeyContext, methods: readonly ReauthenticationMethod[], alternative: string): Failure {
  const maxAge = Math.floor(ctx.config.factors.stepUpMaxAgeMs / 1000);
  return {
    ...failure('REAUTHENTICATION_REQUIRED', `Confirm it is you with POST /auth/reauthenticate (${methods.join(', ')}), then retry within ${maxAge} s${alternative}.`),
    members: { max_age: maxAge, methods },
  };
}

export interface StepUpOptions {
  /** Enforce only for accounts with a second factor (change-password: the current password is proof enough otherwise). */
  secondFactorOnly?: boolean;
  /** What else the route accepts as proof, for the 403's detail (e.g. `, or send code or recovery_code`). */
  alternative?: string;
}

/**
 * Succeeds when the caller's session authenticated recently enough for a sensitive action (the
 * rule at the top of this file), else REAUTHENTICATION_REQUIRED. A recent session whose `amr`
 * shows a factor passes without a query.
 *
 * @example
 * const recent = await requireRecentAuthentication(ctx, request.auth!);
 * if (!recent.ok) return recent;
 */
export async function requireRecentAuthentication(ctx: LatchkeyContext, auth: AuthState, options: StepUpOptions = {}): Promise<Outcome<void>> {
  const recent = isRecent(ctx, auth.session.authTime);
  if (recent && showsFactor(auth.session.amr)) return success(undefined);
  const { secondFactor, methods } = await reauthenticationMethods(ctx, auth.user.id);
  if (!secondFactor && (recent || options.secondFactorOnly === true)) return success(undefined);
  return reauthenticationRequired(ctx, methods, options.alternative ?? '');
}

/**
 * The session's `amr` after a reauthentication with `proven`: every method the session has
 * proven so far (its sign-in and its reauthentications), plus `mfa` once that includes something
 * known (`pwd`) and something held (`otp`, `hwk`, `swk`), or a passkey that verified the user.
 * `auth_time` says when the latest proof was; `amr` never loses a method within a session.
 *
 * @example
 * amrAfterReauthentication(['pwd'], ['otp']); // ['pwd', 'otp', 'mfa']
 */
export function amrAfterReauthentication(session: readonly string[], proven: readonly string[]): string[] {
  const all = new Set([...session, ...proven]);
  if (FIRST_FACTOR_AMR.some((v) => all.has(v)) && POSSESSION_AMR.some((v) => all.has(v))) all.add('mfa');
  const rank = (v: string) => (AMR_ORDER.includes(v) ? AMR_ORDER.indexOf(v) : AMR_ORDER.length);
  return [...all].sort((a, b) => rank(a) - rank(b));
}

const PROOF_MEMBERS = ['password', 'code', 'recovery_code', 'passkey'] as const;

/**
 * POST /auth/reauthenticate: the caller proves who they are again (one of the account's
 * `methods`), and the session's `auth_time` becomes now, its `amr` gains the method, and its
 * refresh token is replaced (the old one is spent: a later use is a grace or a reuse, as after a
 * rotation). Wrong passwords and codes count toward the login backoff as at login.
 */
export async function reauthenticate(ctx: LatchkeyContext, auth: AuthState, proof: ReauthenticationProof, meta: RequestMeta): Promise<Outcome<IssuedTokens>> {
  const sent = PROOF_MEMBERS.filter((m) => proof[m] !== undefined);
  if (sent.length !== 1) {
    return failure('VALIDATION_FAILED', 'Send exactly one of password, code, recovery_code and passkey.', [
      { field: sent[1] ?? 'password', message: 'send exactly one of password, code, recovery_code and passkey' },
    ]);
  }
  const method = sent[0]!;
  const { methods } = await reauthenticationMethods(ctx, auth.user.id);
  if (!methods.includes(method)) {
    return {
      ...failure('REAUTHENTICATION_METHOD_UNAVAILABLE', unavailableDetail(method, methods)),
      members: { methods },
    };
  }
  const proven = await prove(ctx, auth, method, proof, meta);
  if (!proven.ok) {
    if (method === 'password') await recordEvent(ctx, auth.user.id, 'reauthentication_failed', meta, { method, code: proven.code });
    return proven;
  }
  const now = ctx.clock();
  const refreshToken = newOpaqueToken();
  const session = await ctx.store.reauthenticateSession({
    sessionId: auth.session.id,
    userId: auth.user.id,
    authTime: now,
    amr: amrAfterReauthentication(auth.session.amr, proven.value),
    newTokenHash: hashToken(refreshToken),
    now,
    idleTimeoutMs: ctx.config.sessions.sessionIdleTimeoutMs,
  });
  // The session ended while the proof was checked (a logout, a revocation elsewhere).
  if (!session) return failure('INVALID_TOKEN', 'The access token is invalid or has expired.');
  await recordEvent(ctx, auth.user.id, 'reauthenticated', meta, { session_id: session.id, method });
  return success(await tokensForSession(ctx, auth.user, session, refreshToken));
}

/** Checks the proof of `method`; the RFC 8176 values it proved. */
async function prove(
  ctx: LatchkeyContext,
  auth: AuthState,
  method: ReauthenticationMethod,
  proof: ReauthenticationProof,
  meta: RequestMeta,
): Promise<Outcome<readonly string[]>> {
  switch (method) {
    case 'password': {
      const proved = await proveCurrentPassword(ctx, auth.user, proof.password!, meta, 'reauthenticate');
      return proved.ok ? success(['pwd']) : proved;
    }
    case 'code':
    case 'recovery_code': {
      const proved = await proveFactor(ctx, auth.user, { code: proof.code, recovery_code: proof.recovery_code }, meta);
      return proved.ok ? success(['otp']) : proved;
    }
    case 'passkey':
      return provePasskeyReauthentication(ctx, auth.user, proof.passkey!, meta);
  }
}

function unavailableDetail(method: ReauthenticationMethod, methods: readonly ReauthenticationMethod[]): string {
  const use = `use ${methods.join(', ')}`;
  if (method === 'password') return `This account has a second factor: the password alone does not confirm it is you; ${use}.`;
  if (method === 'passkey') return `This account has no passkey; ${use}.`;
  return `This account has no authenticator; ${use}.`;
}

/** Methods that change nothing; every other /admin request is state-changing. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The admin scope's preHandler with STEP_UP_ADMIN=true: `guard` (the admin role check) first,
 * then every state-changing request needs a recent authentication of the admin's session.
 *
 * @example
 * const admin = ctx.config.factors.stepUpAdmin ? withStepUp(ctx, adminGuard) : adminGuard;
 */
export function withStepUp(ctx: LatchkeyContext, guard: preHandlerHookHandler): preHandlerHookHandler {
  return function stepUpGuard(this: unknown, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const next: HookHandlerDoneFunction = (err?: Error) => {
      if (err || SAFE_METHODS.has(request.method)) return done(err);
      requireRecentAuthentication(ctx, request.auth!).then((recent) => done(recent.ok ? undefined : failureToError(recent)), done);
    };
    (guard as (this: unknown, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void).call(this, request, reply, next);
  } as preHandlerHookHandler;
}
