import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { newId } from '../../lib/ids.js';
import { recordAudit } from '../audit/service.js';
import { AUDITED_EVENTS } from '../audit/security-changes.js';
import type { SecurityEvent } from '../../store/types.js';

/** Security event types recorded for a user (GET /auth/events, the admin view). */
export type SecurityEventType =
  | 'register'
  | 'login_succeeded'
  | 'login_failed'
  | 'login_backoff'
  | 'refresh_token_reused'
  | 'logout'
  | 'logout_all'
  | 'password_changed'
  | 'session_revoked'
  | 'email_verified'
  | 'password_reset_requested'
  | 'password_reset'
  | 'admin_user_created'
  | 'admin_user_updated'
  | 'admin_user_deleted'
  | 'admin_sessions_revoked'
  | 'admin_user_invited'
  | 'admin_password_reset_sent'
  | 'invite_accepted'
  | 'factor_enrolled'
  | 'factor_confirmed'
  | 'factor_removed'
  | 'recovery_code_used'
  | 'recovery_codes_regenerated'
  | 'mfa_failed'
  | 'mfa_backoff'
  | 'passkey_added'
  | 'passkey_renamed'
  | 'passkey_removed'
  | 'passkey_used'
  | 'passkey_rejected'
  | 'passkey_counter_regression'
  | 'reauthenticated'
  | 'reauthentication_failed'
  | 'factors_reset_by_admin'
  | 'identity_linked'
  | 'identity_unlinked'
  | 'social_login'
  | 'email_sign_in_requested'
  | 'email_sign_in'
  | 'email_sign_in_failed'
  // self-service account (docs/account.md); a deletion itself is a log line (no row of the user survives it)
  | 'account_exported'
  | 'account_deletion_scheduled'
  | 'account_deletion_cancelled';

/**
 * Records a security event, and the audit entry of the security changes among them
 * (features/audit/security-changes.ts). A failure to record is logged and swallowed: losing an
 * audit row must not fail the user's request.
 */
export async function recordEvent(
  ctx: LatchkeyContext,
  userId: string | null,
  type: SecurityEventType,
  meta: { ip: string | null; userAgent: string | null } | RequestMeta,
  detail: Record<string, unknown> | null = null,
): Promise<void> {
  const audited = userId === null ? undefined : AUDITED_EVENTS[type];
  // An admin's unlink (`by`) is audited by the admin route, with the admin as the actor.
  if (audited && !(detail && 'by' in detail)) {
    await Promise.all([recordSecurityEvent(ctx, userId, type, meta, detail), auditSecurityChange(ctx, userId!, audited, meta, detail)]);
  } else {
    await recordSecurityEvent(ctx, userId, type, meta, detail);
  }
}

async function auditSecurityChange(
  ctx: LatchkeyContext,
  userId: string,
  audited: NonNullable<(typeof AUDITED_EVENTS)[SecurityEventType]>,
  meta: RequestMeta,
  detail: Record<string, unknown> | null,
): Promise<void> {
  let actor: { type: 'user' | 'system'; id: string | null; email: string | null };
  if (audited.actor === 'system') {
    actor = { type: 'system', id: null, email: null };
  } else if (meta.caller?.id === userId) {
    actor = { type: 'user', id: userId, email: meta.caller.email };
  } else {
    // A flow without a signed-in caller (a reset link, an invitation, registration): the address
    // of the account at the time. Only these rare writes pay for the read.
    const user = await ctx.store.findUserById(userId).catch(() => null);
    actor = { type: 'user', id: userId, email: user?.email ?? null };
  }
  const changes = audited.changes?.(detail) ?? null;
  await recordAudit(ctx, {
    actor,
    action: audited.action,
    target: audited.target(userId, detail),
    changes: audited.actor === 'system' ? { user_id: userId, ...changes } : changes,
    meta,
  });
}

async function recordSecurityEvent(
  ctx: LatchkeyContext,
  userId: string | null,
  type: SecurityEventType,
  meta: { ip: string | null; userAgent: string | null },
  detail: Record<string, unknown> | null,
): Promise<void> {
  try {
    await ctx.store.recordEvent({
      id: newId(),
      userId,
      type,
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      detail,
      createdAt: ctx.clock(),
    });
  } catch (err) {
    ctx.log.error({ err, event: type }, 'could not record security event');
  }
}

/**
 * The user's most recent security events, newest first (GET /auth/events, the admin view).
 *
 * @example
 * const events = await recentEvents(ctx, userId, 50);
 */
export function recentEvents(ctx: Pick<LatchkeyContext, 'store'>, userId: string, limit: number): Promise<SecurityEvent[]> {
  return ctx.store.listEvents(userId, limit);
}
