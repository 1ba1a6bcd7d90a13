import type { UserPatch } from './types.js';

interface RoleState {
  roles: string[];
  disabled: boolean;
}

/** An enabled user holding `role` (a disabled one cannot sign in, so does not count). */
export function holdsRole(user: RoleState, role: string): boolean {
  return !user.disabled && user.roles.includes(role);
}

/**
 * Does this change leave `user` no longer an enabled holder of `role` when they were one?
 * `patch` null means the user is deleted. Both adapters decide with this, under their lock.
 */
export function takesRoleAway(user: RoleState, patch: UserPatch | null, role: string): boolean {
  if (!holdsRole(user, role)) return false;
  if (patch === null) return true;
  return !holdsRole({ roles: patch.roles ?? user.roles, disabled: patch.disabled ?? user.disabled }, role);
}
