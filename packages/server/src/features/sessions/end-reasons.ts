import { failure, type Failure } from '../../outcome.js';

/**
 * Why a session ended, as its holder is told (the problem's `reason` member, docs/errors.md).
 * Only what the account's owner may know: who ended it in general terms, never which admin,
 * from where, or anything about another account.
 */
export const SESSION_END_REASONS = [
  'logout',
  'revoked_by_user',
  'revoked_by_admin',
  'password_changed',
  'password_reset',
  'roles_changed',
  'reuse_detected',
  'account_disabled',
  'account_deletion_scheduled',
  'revoked',
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/** The stored `revoked_reason` values (what the revoking code passes) -> the public reason. */
const PUBLIC_REASON: Readonly<Record<string, SessionEndReason>> = {
  logout: 'logout',
  logout_all: 'logout',
  revoked_by_user: 'revoked_by_user',
  revoked_by_admin: 'revoked_by_admin',
  // A session ended by disabling the account, which is enabled again: an admin ended it.
  disabled_by_admin: 'revoked_by_admin',
  password_changed: 'password_changed',
  password_reset: 'password_reset',
  roles_changed: 'roles_changed',
  refresh_token_reused: 'reuse_detected',
  account_deletion_scheduled: 'account_deletion_scheduled',
};

const DETAIL: Readonly<Record<SessionEndReason, string>> = {
  logout: 'This session was logged out.',
  revoked_by_user: 'This session was ended from another session of this account.',
  revoked_by_admin: 'An administrator ended this session.',
  password_changed: 'The password of this account was changed; sign in again.',
  password_reset: 'The password of this account was reset; sign in with the new password.',
  roles_changed: 'The roles of this account changed; sign in again.',
  reuse_detected: 'This session was ended because one of its refresh tokens was used twice.',
  account_disabled: 'This account has been disabled.',
  account_deletion_scheduled: 'This account is scheduled for deletion; signing in again cancels it.',
  revoked: 'This session was ended.',
};

/**
 * The public reason for a session's stored `revoked_reason`; `revoked` for one it does not
 * know (a reason added later, or none).
 *
 * @example
 * sessionEndReason('logout_all'); // 'logout'
 */
export function sessionEndReason(revokedReason: string | null): SessionEndReason {
  return (revokedReason !== null && PUBLIC_REASON[revokedReason]) || 'revoked';
}

function failuresFor(code: 'INVALID_REFRESH_TOKEN' | 'INVALID_TOKEN'): Readonly<Record<SessionEndReason, Readonly<Failure>>> {
  const out = {} as Record<SessionEndReason, Readonly<Failure>>;
  for (const reason of SESSION_END_REASONS) {
    out[reason] = Object.freeze({ ...failure(code, DETAIL[reason]), members: Object.freeze({ reason }) });
  }
  return Object.freeze(out);
}

// Made once: a refused refresh or request of an ended session allocates nothing for its answer.
const REFRESH_REFUSED = failuresFor('INVALID_REFRESH_TOKEN');
const TOKEN_REFUSED = failuresFor('INVALID_TOKEN');

/**
 * The refusal of a refresh token whose session ended: INVALID_REFRESH_TOKEN (401, as before)
 * with the `reason` member.
 *
 * @example
 * if (result.reason === 'revoked') return endedSessionRefresh(sessionEndReason(result.revokedReason));
 */
export function endedSessionRefresh(reason: SessionEndReason): Readonly<Failure> {
  return REFRESH_REFUSED[reason];
}

/**
 * The refusal of a valid access token whose session ended (on the stateful routes, which load
 * the session): INVALID_TOKEN (401, as before) with the `reason` member.
 */
export function endedSessionToken(reason: SessionEndReason): Readonly<Failure> {
  return TOKEN_REFUSED[reason];
}
