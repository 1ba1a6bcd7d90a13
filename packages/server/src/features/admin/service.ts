import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, invalid, success, type Outcome } from '../../outcome.js';
import { decodeUserCursor } from '../../store/query-helpers.js';
import type { SecurityEvent, SessionRecord, UserPatch, UserRecord } from '../../store/types.js';
import { recordEvent, recentEvents } from '../events/service.js';
import { ADMIN_ROLE, normaliseName } from '../users/fields.js';
import { createUser, deleteUser, LAST_ADMIN_DETAIL } from '../users/service.js';

export interface AdminPatch {
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
}

/**
 * A page of users, oldest first; a cursor this server did not issue is a validation failure.
 *
 * @example
 * const page = unwrap(await adminListUsers(ctx, { cursor: null, limit: 50, search: null, disabled: null, emailVerified: null, role: null }));
 */
export async function adminListUsers(ctx: LatchkeyContext, query: AdminUserQuery): Promise<Outcome<{ users: UserRecord[]; nextCursor: string | null }>> {
  if (query.cursor && !decodeUserCursor(query.cursor)) {
    return invalid({ field: 'cursor', message: 'Cursor must be the next_cursor of a previous page; start again without it.' });
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
 */
export async function adminUpdateUser(
  ctx: LatchkeyContext,
  adminId: string,
  userId: string,
  patch: AdminPatch,
  meta: RequestMeta,
): Promise<Outcome<UserRecord>> {
  const storePatch: UserPatch = {};
  if (patch.name !== undefined) storePatch.name = normaliseName(patch.name);
  if (patch.roles !== undefined) storePatch.roles = [...new Set(patch.roles)];
  if (patch.disabled !== undefined) storePatch.disabled = patch.disabled;
  if (patch.email_verified !== undefined) storePatch.emailVerified = patch.email_verified;
  const now = ctx.clock();
  const result = await ctx.store.updateUserKeepingRole(userId, storePatch, now, ADMIN_ROLE);
  if (result.kind === 'not_found') return failure('NOT_FOUND', 'No such user.');
  if (result.kind === 'last_holder') return failure('LAST_ADMIN', LAST_ADMIN_DETAIL);
  const { before, user } = result;
  const rolesChanged = !sameSet(user.roles, before.roles);
  const disabledNow = user.disabled && !before.disabled;
  const endSessions = disabledNow || (rolesChanged && (patch.end_sessions ?? ctx.config.sessions.roleChangeEndsSessions));
  let revoked = 0;
  if (endSessions) {
    revoked = await ctx.store.revokeUserSessions(userId, disabledNow ? 'disabled_by_admin' : 'roles_changed', now);
  }
  await recordEvent(ctx, userId, 'admin_user_updated', meta, {
    admin_id: adminId,
    changes: Object.keys(patch).filter((k) => k !== 'end_sessions'),
    sessions_revoked: revoked,
  });
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
  await recordEvent(ctx, adminId, 'admin_user_deleted', meta, { user_id: userId, email: deleted.value.email });
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
  await recordEvent(ctx, userId, 'admin_sessions_revoked', meta, { admin_id: adminId, sessions: count, session_id: sessionId ?? null });
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
  await recordEvent(ctx, created.value.id, 'admin_user_created', meta, { admin_id: adminId });
  return created;
}
