import { failure, success, type LatchkeyContext, type Outcome, type RequestMeta } from '../../context.js';
import { newId } from '../../lib/ids.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import type { UserPatch, UserRecord } from '../../store/types.js';
import { normaliseEmail } from '../auth/service.js';
import { recordEvent } from '../events/service.js';

export const ADMIN_ROLE = 'admin';

/** Roles are free-form strings: lower-case letters, digits, `_`, `-`, `:` and `.`, 1..64 long. */
export const ROLE_PATTERN = '^[a-z0-9][a-z0-9_.:-]{0,63}$';

export interface AdminPatch {
  name?: string | null;
  roles?: string[];
  disabled?: boolean;
  email_verified?: boolean;
}

const LAST_ADMIN_DETAIL = 'This is the last enabled admin; make another admin first.';

/**
 * Updates a user as an admin. Disabling a user or changing their roles revokes their sessions at
 * once (their access tokens carry the old roles). The last enabled admin cannot be demoted,
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
  if (patch.name !== undefined) storePatch.name = patch.name?.trim() || null;
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
  let revoked = 0;
  if (rolesChanged || disabledNow) {
    revoked = await ctx.store.revokeUserSessions(userId, disabledNow ? 'disabled_by_admin' : 'roles_changed', now);
  }
  await recordEvent(ctx, userId, 'admin_user_updated', meta, {
    admin_id: adminId,
    changes: Object.keys(patch),
    sessions_revoked: revoked,
  });
  return success(user);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export async function adminDeleteUser(ctx: LatchkeyContext, adminId: string, userId: string, meta: RequestMeta): Promise<Outcome<void>> {
  const result = await ctx.store.deleteUserKeepingRole(userId, ADMIN_ROLE);
  if (result.kind === 'not_found') return failure('NOT_FOUND', 'No such user.');
  if (result.kind === 'last_holder') return failure('LAST_ADMIN', LAST_ADMIN_DETAIL);
  // The target's own events went with them; the deletion is recorded on the acting admin.
  await recordEvent(ctx, adminId, 'admin_user_deleted', meta, { user_id: userId, email: result.user.email });
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

export async function adminCreateUser(
  ctx: LatchkeyContext,
  adminId: string,
  input: AdminCreateInput,
  meta: RequestMeta,
): Promise<Outcome<UserRecord>> {
  const policy = checkPasswordPolicy('password', input.password);
  if (policy) return failure('VALIDATION_FAILED', 'The password does not meet the policy.', [policy]);
  const email = normaliseEmail(input.email);
  if (await ctx.store.findUserByEmail(email)) return failure('EMAIL_TAKEN', 'An account with this email already exists.');
  const user = await ctx.store.createUser({
    id: newId(),
    email,
    name: input.name?.trim() || null,
    passwordHash: await ctx.hasher.hash(input.password),
    roles: [...new Set(input.roles ?? [])],
    emailVerified: input.email_verified ?? false,
    createdAt: ctx.clock(),
  });
  if (!user) return failure('EMAIL_TAKEN', 'An account with this email already exists.');
  await recordEvent(ctx, user.id, 'admin_user_created', meta, { admin_id: adminId });
  return success(user);
}
