import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import { decodeUserCursor } from '../../store/query-helpers.js';
import type { AdminUserPatch, SecurityEvent, SessionRecord, SortOrder, UserPage, UserRecord, UserSort } from '../../store/types.js';
import { adminActor, recordAudit, userChanges, userTarget } from '../audit/service.js';
import { sendInvite } from '../email/invite.js';
import { mailPasswordResetLink } from '../email/reset-link.js';
import { mailFactorChange } from '../email/factor-notice.js';
import { recordEvent, recentEvents } from '../events/service.js';
import { listOwnPasskeys, type PublicPasskey } from '../factors/passkey-service.js';
import { mfaRequiredFor } from '../factors/policy.js';
import { listOwnFactors, type PublicFactor } from '../factors/service.js';
import { ADMIN_ROLE, normaliseName } from '../users/fields.js';
import { checkedEmail, createInvitedUser, createUser, deleteUser, LAST_ADMIN_DETAIL } from '../users/service.js';

export interface AdminPatch {
  email?: string;
  name?: string | null;
  roles?: string[];
  disabled?: boolean;
  email_verified?: boolean;
  /** When `roles` change: end the user's sessions now (default ROLE_CHANGE_ENDS_SESSIONS). */
  end_sessions?: boolean;
}

export interface AdminUserQuery {
  cursor: string | null;
  limit: number;
  search: string | null;
  disabled: boolean | null;
  emailVerified: boolean | null;
  role: string | null;
  sort: UserSort;
  order: SortOrder;
  /** Count every match (`total`); false: `total` is null. */
  count: boolean;
}

/**
 * A page of users in the asked order, with the count of every match. A cursor this server did not
 * issue, or one of another sort or order (its key would be compared with another column), is a
 * validation failure.
 *
 * @example
 * const page = unwrap(await adminListUsers(ctx, { cursor: null, limit: 50, search: null, disabled: null, emailVerified: null, role: null, sort: 'created_at', order: 'asc', count: true }));
 */
export async function adminListUsers(ctx: LatchkeyContext, query: AdminUserQuery): Promise<Outcome<UserPage>> {
  if (query.cursor) {
    const cursor = decodeUserCursor(query.cursor);
    if (!cursor) {
      return invalid({ field: 'cursor', message: 'Cursor must be the next_cursor of a previous page; start again without it.' });
    }
    if (cursor.sort !== query.sort || cursor.order !== query.order) {
      return invalid({
        field: 'cursor',
        message: `Cursor belongs to sort=${cursor.sort}&order=${cursor.order}, not sort=${query.sort}&order=${query.order}; start again without it.`,
      });
    }
  }
  return success(await ctx.store.listUsers(query));
}

/**
 * One user with their live sessions and recent security events.
 *
 * @example
 * const { user, sessions, events } = unwrap(await adminUserDetail(ctx, userId));
 */
export async function adminUserDetail(
  ctx: LatchkeyContext,
  userId: string,
): Promise<Outcome<{ user: UserRecord; sessions: SessionRecord[]; events: SecurityEvent[] }>> {
  const user = await ctx.store.findUserById(userId);
  if (!user) return failure('NOT_FOUND', 'No such user.');
  const [sessions, events] = await Promise.all([ctx.store.listSessions(user.id, ctx.clock()), recentEvents(ctx, user.id, 50)]);
  return success({ user, sessions, events });
}

/**
 * Updates a user as an admin. Disabling a user revokes their sessions at once. Changed roles
 * reach the user's next access token (at the next refresh, within ACCESS_TOKEN_TTL) and the admin
 * routes at once (they check the stored roles); `end_sessions` (default ROLE_CHANGE_ENDS_SESSIONS)
 * ends the sessions instead, for a change that must not wait for a refresh. The last enabled admin cannot be demoted,
 * disabled or deleted, so the server always keeps a way in; the store checks that under a lock,
 * in the transaction of the change, so two admins demoting each other at once leave one of them.
 *
 * A new email follows the one email rule (features/users checkedEmail), is unique (EMAIL_TAKEN,
 * decided by the unique index), and is unverified unless the same request sets
 * `email_verified: true`; links mailed to the old address stop working (the store deletes them
 * in the change's transaction). The user's sessions stay: who they are has not changed.
 */
export async function adminUpdateUser(
  ctx: LatchkeyContext,
  adminId: string,
  userId: string,
  patch: AdminPatch,
  meta: RequestMeta,
): Promise<Outcome<UserRecord>> {
  const storePatch: AdminUserPatch = {};
  if (patch.email !== undefined) {
    const email = checkedEmail(patch.email);
    if (!email.ok) return email;
    storePatch.email = email.value;
  }
  if (patch.name !== undefined) storePatch.name = normaliseName(patch.name);
  if (patch.roles !== undefined) storePatch.roles = [...new Set(patch.roles)];
  if (patch.disabled !== undefined) storePatch.disabled = patch.disabled;
  if (patch.email_verified !== undefined) storePatch.emailVerified = patch.email_verified;
  if (storePatch.email !== undefined) {
    const current = await ctx.store.findUserById(userId);
    if (!current) return failure('NOT_FOUND', 'No such user.');
    // A new address is not verified by anyone yet, unless the admin says so in this request.
    if (storePatch.email !== current.email) storePatch.emailVerified = patch.email_verified ?? false;
    else delete storePatch.email;
  }
  const now = ctx.clock();
  const result = await ctx.store.updateUserKeepingRole(userId, storePatch, now, ADMIN_ROLE);
  if (result.kind === 'not_found') return failure('NOT_FOUND', 'No such user.');
  if (result.kind === 'last_holder') return failure('LAST_ADMIN', LAST_ADMIN_DETAIL);
  if (result.kind === 'email_taken') return failure('EMAIL_TAKEN', 'Another account already has this email address.');
  const { before, user } = result;
  const rolesChanged = !sameSet(user.roles, before.roles);
  const disabledNow = user.disabled && !before.disabled;
  const endSessions = disabledNow || (rolesChanged && (patch.end_sessions ?? ctx.config.sessions.roleChangeEndsSessions));
  let revoked = 0;
  if (endSessions) {
    revoked = await ctx.store.revokeUserSessions(userId, disabledNow ? 'disabled_by_admin' : 'roles_changed', now);
  }
  const detail: Record<string, unknown> = { admin_id: adminId, changes: Object.keys(patch).filter((k) => k !== 'end_sessions'), sessions_revoked: revoked };
  if (user.email !== before.email) Object.assign(detail, { previous_email: before.email, email: user.email });
  const changes: Record<string, unknown> = userChanges(before, user);
  if (revoked > 0) changes.sessions_revoked = revoked;
  // A PATCH that changed nothing (the values it sent were the stored ones) is not an audit entry.
  await Promise.all([
    recordEvent(ctx, userId, 'admin_user_updated', meta, detail),
    Object.keys(changes).length > 0
      ? recordAudit(ctx, { actor: adminActor(adminId, meta), action: 'admin.user.updated', target: userTarget(userId), changes, meta })
      : undefined,
  ]);
  return success(user);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Deletes a user (never the last enabled admin: LAST_ADMIN), recorded on the acting admin. */
export async function adminDeleteUser(ctx: LatchkeyContext, adminId: string, userId: string, meta: RequestMeta): Promise<Outcome<void>> {
  const deleted = await deleteUser(ctx, userId);
  if (!deleted.ok) return deleted;
  // The target's own events went with them; the deletion is recorded on the acting admin.
  const gone = deleted.value;
  await Promise.all([
    recordEvent(ctx, adminId, 'admin_user_deleted', meta, { user_id: userId, email: gone.email }),
    recordAudit(ctx, {
      actor: adminActor(adminId, meta),
      action: 'admin.user.deleted',
      target: userTarget(userId),
      changes: { email: { from: gone.email, to: null }, roles: { from: gone.roles, to: null } },
      meta,
    }),
  ]);
  return success(undefined);
}

export async function adminRevokeSessions(
  ctx: LatchkeyContext,
  adminId: string,
  userId: string,
  meta: RequestMeta,
  sessionId?: string,
): Promise<Outcome<number>> {
  const target = await ctx.store.findUserById(userId);
  if (!target) return failure('NOT_FOUND', 'No such user.');
  const now = ctx.clock();
  let count: number;
  if (sessionId) {
    if (!(await ctx.store.revokeSession(userId, sessionId, 'revoked_by_admin', now))) return failure('NOT_FOUND', 'No such session.');
    count = 1;
  } else {
    count = await ctx.store.revokeUserSessions(userId, 'revoked_by_admin', now);
  }
  await Promise.all([
    recordEvent(ctx, userId, 'admin_sessions_revoked', meta, { admin_id: adminId, sessions: count, session_id: sessionId ?? null }),
    recordAudit(ctx, {
      actor: adminActor(adminId, meta),
      action: sessionId ? 'admin.session.revoked' : 'admin.sessions.revoked',
      target: sessionId ? { type: 'session', id: sessionId } : userTarget(userId),
      changes: sessionId ? { user_id: userId } : { sessions_revoked: count },
      meta,
    }),
  ]);
  return success(count);
}

export interface AdminCreateInput {
  email: string;
  password: string;
  name?: string | null;
  roles?: string[];
  email_verified?: boolean;
}

/** Creates a user (the users room's one way), recorded as created by this admin. */
export async function adminCreateUser(
  ctx: LatchkeyContext,
  adminId: string,
  input: AdminCreateInput,
  meta: RequestMeta,
): Promise<Outcome<UserRecord>> {
  const created = await createUser(ctx, {
    email: input.email,
    password: input.password,
    name: input.name,
    roles: input.roles,
    emailVerified: input.email_verified,
  });
  if (!created.ok) return created;
  const user = created.value;
  await Promise.all([
    recordEvent(ctx, user.id, 'admin_user_created', meta, { admin_id: adminId }),
    recordAudit(ctx, {
      actor: adminActor(adminId, meta),
      action: 'admin.user.created',
      target: userTarget(user.id),
      changes: {
        email: { from: null, to: user.email },
        name: { from: null, to: user.name },
        roles: { from: null, to: user.roles },
        email_verified: { from: null, to: user.emailVerified },
        password: { changed: true },
      },
      meta,
    }),
  ]);
  return created;
}

/**
 * Mails the user a password-reset link (the same link and mail as "forgot password", and the
 * same limit of 3 per address per 15 minutes, shared with it), recorded on the user.
 *
 * @example
 * unwrap(await adminSendPasswordReset(ctx, adminId, userId, requestMeta(request)));
 */
export async function adminSendPasswordReset(ctx: LatchkeyContext, adminId: string, userId: string, meta: RequestMeta): Promise<Outcome<void>> {
  const user = await ctx.store.findUserById(userId);
  if (!user) return failure('NOT_FOUND', 'No such user.');
  const sent = await mailPasswordResetLink(ctx, user);
  if (!sent.ok) return sent;
  await Promise.all([
    recordEvent(ctx, userId, 'admin_password_reset_sent', meta, { admin_id: adminId }),
    recordAudit(ctx, { actor: adminActor(adminId, meta), action: 'admin.user.password_reset_sent', target: userTarget(userId), meta }),
  ]);
  return success(undefined);
}

export interface AdminInviteInput {
  email: string;
  name?: string | null;
  roles?: string[];
}

/**
 * Invites a user by email: an account without a password (features/users createInvitedUser) and
 * a mailed link where its owner chooses one (features/email/invite.ts). Inviting an address that
 * is still waiting for its invitation to be accepted mails a new link (the old one stops
 * working; name and roles stay as they are): `created: false`. An account with a password is
 * EMAIL_TAKEN. Recorded on the user, naming the admin.
 *
 * @example
 * const { user, created } = unwrap(await adminInviteUser(ctx, adminId, { email: 'new@example.com' }, meta));
 */
export async function adminInviteUser(
  ctx: LatchkeyContext,
  adminId: string,
  input: AdminInviteInput,
  meta: RequestMeta,
): Promise<Outcome<{ user: UserRecord; created: boolean }>> {
  const invited = await createInvitedUser(ctx, { email: input.email, name: input.name, roles: input.roles });
  if (!invited.ok) return invited;
  const { user, created } = invited.value;
  const sent = await sendInvite(ctx, user);
  if (!sent.ok) return sent;
  await Promise.all([
    recordEvent(ctx, user.id, 'admin_user_invited', meta, { admin_id: adminId, again: !created }),
    recordAudit(ctx, {
      actor: adminActor(adminId, meta),
      action: 'admin.user.invited',
      target: userTarget(user.id),
      changes: created ? { email: { from: null, to: user.email }, roles: { from: null, to: user.roles } } : { invitation: { resent: true } },
      meta,
    }),
  ]);
  return invited;
}

/** Which second factors an admin reset removes: everything, the authenticator with its recovery codes, or the passkeys. */
export type FactorResetType = 'all' | 'totp' | 'passkeys';

/**
 * A user's second factors as an admin sees them: the TOTP factor's status, the recovery codes
 * left, the passkeys (never a secret or a public key), and whether MFA_REQUIRED_ROLES applies.
 *
 * @example
 * const { factors, passkeys } = unwrap(await adminUserFactors(ctx, userId));
 */
export async function adminUserFactors(
  ctx: LatchkeyContext,
  userId: string,
): Promise<Outcome<{ factors: PublicFactor[]; recovery_codes_left: number; passkeys: PublicPasskey[]; mfa_required: boolean }>> {
  const user = await ctx.store.findUserById(userId);
  if (!user) return failure('NOT_FOUND', 'No such user.');
  const [own, passkeys] = await Promise.all([listOwnFactors(ctx, user.id), listOwnPasskeys(ctx, user.id)]);
  return success({ ...own, ...passkeys, mfa_required: mfaRequiredFor(ctx.config.factors, user) });
}

/**
 * Removes a user's second factors (all, or only the authenticator with its recovery codes, or
 * only the passkeys), for a user who lost them. Their outstanding login challenges go too; their
 * sessions stay (revoke them separately when the account may be compromised). Recorded on the
 * user as `factors_reset_by_admin` naming the admin, and mailed to the user. A user of a
 * MFA_REQUIRED_ROLES role enrols again at their next sign-in.
 *
 * @example
 * const { removed } = unwrap(await adminResetFactors(ctx, adminId, userId, 'all', meta));
 */
export async function adminResetFactors(
  ctx: LatchkeyContext,
  adminId: string,
  userId: string,
  type: FactorResetType,
  meta: RequestMeta,
): Promise<Outcome<{ removed: { totp: number; recovery_codes: number; passkeys: number } }>> {
  const user = await ctx.store.findUserById(userId);
  if (!user) return failure('NOT_FOUND', 'No such user.');
  const removed = { totp: 0, recovery_codes: 0, passkeys: 0 };
  if (type !== 'passkeys') {
    removed.recovery_codes = await ctx.store.countRecoveryCodes(user.id);
    for (const factor of await ctx.store.listFactors(user.id)) {
      if (await ctx.store.deleteFactor(user.id, factor.id)) removed.totp++;
    }
    // deleteFactor drops the codes with the last active factor; this also clears any left over.
    await ctx.store.replaceRecoveryCodes(user.id, [], ctx.clock());
  }
  if (type !== 'totp') {
    for (const passkey of await ctx.store.listPasskeys(user.id)) {
      if (await ctx.store.deletePasskey(user.id, passkey.id)) removed.passkeys++;
    }
  }
  // A challenge issued before the reset would ask for a factor that is gone.
  await ctx.store.deleteOneTimeTokens(user.id, 'mfa_challenge');
  await Promise.all([
    recordEvent(ctx, user.id, 'factors_reset_by_admin', meta, { admin_id: adminId, type, ...removed }),
    recordAudit(ctx, { actor: adminActor(adminId, meta), action: 'admin.factors.reset', target: userTarget(user.id), changes: { type, removed }, meta }),
  ]);
  if (removed.totp + removed.passkeys + removed.recovery_codes > 0) mailFactorChange(ctx, user, 'factors_reset_by_admin');
  return success({ removed });
}
