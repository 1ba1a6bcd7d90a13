import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newId, newOpaqueToken } from '../../lib/ids.js';
import { failure, success, type Outcome } from '../../outcome.js';
import type { AuthUser, SessionRecord, UserRecord } from '../../store/types.js';
import { recordEvent } from '../events/service.js';
import type { AuthState } from './authenticate.js';
import { endedSessionRefresh, sessionEndReason } from './end-reasons.js';

/** What login and refresh return; `refresh_token` is withheld from the body in cookie mode. */
export interface IssuedTokens {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  session_id: string;
  /** The session's absolute end (epoch ms): the refresh cookie's lifetime. */
  session_expires_at: number;
}

/** The session's sign-in (`amr`, `auth_time`) goes into every access token of the session. */
async function accessTokenFor(ctx: LatchkeyContext, user: AuthUser, session: Pick<SessionRecord, 'id' | 'amr' | 'authTime'>): Promise<string> {
  return ctx.tokens.sign({
    userId: user.id,
    sessionId: session.id,
    roles: user.roles,
    emailVerified: user.emailVerified,
    amr: session.amr,
    authTime: session.authTime,
  });
}

/** RFC 8176 `amr` of a password login. */
export const AMR_PASSWORD: readonly string[] = Object.freeze(['pwd']);

/**
 * Starts a new session (a refresh-token family) for a user who just proved who they are, by the
 * methods `amr` (RFC 8176; `AMR_PASSWORD` for a password alone). The session's `auth_time` is now.
 */
export async function startSession(
  ctx: LatchkeyContext,
  user: UserRecord,
  meta: RequestMeta,
  amr: readonly string[],
): Promise<IssuedTokens> {
  const now = ctx.clock();
  const refreshToken = newOpaqueToken();
  const session = await ctx.store.createSession({
    id: newId(),
    userId: user.id,
    createdAt: now,
    expiresAt: now + ctx.config.sessions.sessionMaxAgeMs,
    idleExpiresAt: Math.min(now + ctx.config.sessions.sessionIdleTimeoutMs, now + ctx.config.sessions.sessionMaxAgeMs),
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip,
    refreshTokenHash: hashToken(refreshToken),
    authTime: now,
    amr,
  });
  return tokensForSession(ctx, user, session, refreshToken);
}

/**
 * The end of every successful sign-in (a login, or its second factor): the session, the login
 * metric and the `login_succeeded` event (with `detail`, e.g. which second factor was used), and
 * `account_deletion_cancelled` when the sign-in cancelled a scheduled deletion.
 *
 * @example
 * const tokens = await signIn(ctx, user, requestMeta(request), AMR_PASSWORD);
 */
export async function signIn(
  ctx: LatchkeyContext,
  user: UserRecord,
  meta: RequestMeta,
  amr: readonly string[],
  detail: Record<string, unknown> = {},
): Promise<IssuedTokens> {
  const tokens = await startSession(ctx, user, meta, amr);
  ctx.metrics.logins.inc({ result: 'succeeded' });
  await recordEvent(ctx, user.id, 'login_succeeded', meta, { session_id: tokens.session_id, ...detail });
  // The new session's insert cleared a scheduled deletion (SessionStore.createSession, docs/account.md);
  // `user` is the record this sign-in loaded, from before it.
  if (user.deletionDueAt !== null) {
    await recordEvent(ctx, user.id, 'account_deletion_cancelled', meta, { session_id: tokens.session_id, was_due_at: new Date(user.deletionDueAt).toISOString() });
  }
  return tokens;
}

/**
 * The answer of a reauthentication (docs/factors.md, Step-up): an access token carrying the
 * session's renewed `auth_time` and `amr`, and the refresh token that replaced the session's.
 *
 * @example
 * const tokens = await tokensForSession(ctx, auth.user, renewed, refreshToken);
 */
export async function tokensForSession(ctx: LatchkeyContext, user: AuthUser, session: SessionRecord, refreshToken: string): Promise<IssuedTokens> {
  return {
    access_token: await accessTokenFor(ctx, user, session),
    token_type: 'Bearer',
    expires_in: ctx.tokens.expiresIn,
    refresh_token: refreshToken,
    session_id: session.id,
    session_expires_at: session.expiresAt,
  };
}

/**
 * Exchanges a refresh token for a new pair. The policy (docs/sessions.md):
 * - a live token rotates: it is spent and a new one is issued;
 * - a token spent less than REFRESH_GRACE ago (a concurrent refresh from another tab) also
 *   gets a new token of the same session, so racing clients all stay logged in;
 * - a token spent REFRESH_GRACE ago or earlier is reuse: the whole session is revoked
 *   (REFRESH_TOKEN_REUSED), logged at warn level and recorded as a security event.
 * With REFRESH_GRACE=0 there is no window: any second use is reuse.
 * A refused token says why when its session ended (the `reason` member: logout, password
 * change, admin, ...), and ACCOUNT_DISABLED when the account is disabled.
 */
export async function refreshSession(
  ctx: LatchkeyContext,
  refreshToken: string,
  meta: RequestMeta,
): Promise<Outcome<IssuedTokens>> {
  const newToken = newOpaqueToken();
  const result = await ctx.store.rotateRefreshToken({
    oldTokenHash: hashToken(refreshToken),
    newTokenHash: hashToken(newToken),
    now: ctx.clock(),
    graceMs: ctx.config.sessions.refreshGraceMs,
    idleTimeoutMs: ctx.config.sessions.sessionIdleTimeoutMs,
  });
  ctx.metrics.refreshes.inc({ result: result.kind });
  if (result.kind === 'reused') ctx.metrics.reuseDetections.inc();
  switch (result.kind) {
    case 'rotated':
    case 'grace':
      return success({
        access_token: await accessTokenFor(ctx, result.user, result.session),
        token_type: 'Bearer',
        expires_in: ctx.tokens.expiresIn,
        refresh_token: newToken,
        session_id: result.session.id,
        session_expires_at: result.session.expiresAt,
      });
    case 'reused':
      ctx.log.warn(
        { event: 'refresh_token_reused', userId: result.userId, sessionId: result.sessionId, ip: meta.ip },
        'refresh token reuse: session revoked',
      );
      await recordEvent(ctx, result.userId, 'refresh_token_reused', meta, { session_id: result.sessionId });
      return failure('REFRESH_TOKEN_REUSED', 'This refresh token was already used; the session has been ended.');
    case 'invalid':
      switch (result.reason) {
        case 'expired':
        case 'idle':
          return failure('SESSION_EXPIRED');
        case 'disabled':
          return failure('ACCOUNT_DISABLED', 'This account has been disabled.');
        case 'revoked':
          // Why it ended: the holder of a token of this session is its owner (or holds what they
          // held), who may know it; an unknown token says nothing.
          return endedSessionRefresh(sessionEndReason(result.revokedReason));
        case 'unknown':
          return failure('INVALID_REFRESH_TOKEN');
      }
  }
}

/** A session as the API shows it to its owner. */
export function publicSession(s: SessionRecord, currentSessionId: string | null) {
  return {
    id: s.id,
    created_at: new Date(s.createdAt).toISOString(),
    last_used_at: new Date(s.lastUsedAt).toISOString(),
    expires_at: new Date(Math.min(s.expiresAt, s.idleExpiresAt)).toISOString(),
    user_agent: s.userAgent,
    ip: s.ip,
    current: s.id === currentSessionId,
  };
}

/** The caller's live sessions, theirs marked `current`. */
export async function listSessions(ctx: LatchkeyContext, userId: string, currentSessionId: string) {
  const sessions = await ctx.store.listSessions(userId, ctx.clock());
  return sessions.map((s) => publicSession(s, currentSessionId));
}

/**
 * Ends the session of the caller's access token.
 *
 * @example
 * await logout(ctx, auth, requestMeta(request));
 */
export async function logout(ctx: LatchkeyContext, auth: AuthState, meta: RequestMeta): Promise<void> {
  await ctx.store.revokeSession(auth.user.id, auth.session.id, 'logout', ctx.clock());
  await recordEvent(ctx, auth.user.id, 'logout', meta, { session_id: auth.session.id });
}

/**
 * Ends the session a refresh token (live or spent) belongs to; an unknown or ended one is no error.
 *
 * @example
 * await logoutWithRefreshToken(ctx, refreshCookie(request)!, requestMeta(request));
 */
export async function logoutWithRefreshToken(ctx: LatchkeyContext, refreshToken: string, meta: RequestMeta): Promise<void> {
  const revoked = await ctx.store.revokeSessionByRefreshToken(hashToken(refreshToken), 'logout', ctx.clock());
  if (revoked) await recordEvent(ctx, revoked.userId, 'logout', meta, { session_id: revoked.sessionId });
}

export async function logoutAll(ctx: LatchkeyContext, userId: string, meta: RequestMeta): Promise<number> {
  const count = await ctx.store.revokeUserSessions(userId, 'logout_all', ctx.clock());
  await recordEvent(ctx, userId, 'logout_all', meta, { sessions: count });
  return count;
}

/** Revokes one of the caller's own sessions; someone else's session is "not found", not "forbidden". */
export async function revokeOwnSession(
  ctx: LatchkeyContext,
  userId: string,
  sessionId: string,
  meta: RequestMeta,
): Promise<Outcome<void>> {
  const revoked = await ctx.store.revokeSession(userId, sessionId, 'revoked_by_user', ctx.clock());
  if (!revoked) return failure('NOT_FOUND', 'No such session.');
  await recordEvent(ctx, userId, 'session_revoked', meta, { session_id: sessionId });
  return success(undefined);
}
