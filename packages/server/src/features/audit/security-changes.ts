/**
 * Which security events are also audit entries, and how: the changes a user makes to their own
 * account's security (password, factors, passkeys, linked providers, sessions ended) and what the
 * server detects (a refresh token replayed, a passkey counter gone back). recordEvent writes the
 * entry from the same place, so no call site can forget it.
 *
 * Left out on purpose: sign-ins and their failures (login_succeeded, login_failed, mfa_*,
 * passkey_used, social_login, reauthenticated, recovery_code_used as a sign-in), sign-outs, and
 * requests for mail. They are in the user's security events already, they are the bulk of the
 * traffic, and a sign-in changes nothing: a login writes what it wrote before and not one row
 * more. The admin_* events and an admin's unlink are written by the admin services with the
 * changes an admin made (features/admin), not from here.
 */
import type { SecurityEventType } from '../events/service.js';

export interface AuditMapping {
  action: string;
  /** `system`: the server noticed it (the user did not do it). */
  actor: 'user' | 'system';
  target: (userId: string, detail: Record<string, unknown> | null) => { type: string; id: string };
  changes?: (detail: Record<string, unknown> | null) => Record<string, unknown> | null;
}

const own = (userId: string) => ({ type: 'user', id: userId });
const str = (detail: Record<string, unknown> | null, key: string): string | null => {
  const v = detail?.[key];
  return typeof v === 'string' ? v : null;
};
const sub = (type: string, key: string) => (userId: string, detail: Record<string, unknown> | null) => {
  const id = str(detail, key);
  return id ? { type, id } : own(userId);
};

export const AUDITED_EVENTS: Partial<Record<SecurityEventType, AuditMapping>> = {
  register: { action: 'user.registered', actor: 'user', target: own, changes: (d) => (str(d, 'provider') ? { provider: str(d, 'provider') } : null) },
  password_changed: {
    action: 'user.password.changed',
    actor: 'user',
    target: own,
    changes: (d) => ({ password: { changed: true }, sessions_revoked: d?.sessions_revoked ?? 0 }),
  },
  password_reset: {
    action: 'user.password.reset',
    actor: 'user',
    target: own,
    changes: (d) => ({ password: { changed: true }, sessions_revoked: d?.sessions_revoked ?? 0 }),
  },
  email_verified: { action: 'user.email.verified', actor: 'user', target: own, changes: () => ({ email_verified: { from: false, to: true } }) },
  invite_accepted: { action: 'user.invite.accepted', actor: 'user', target: own, changes: () => ({ password: { changed: true } }) },
  factor_confirmed: { action: 'user.factor.added', actor: 'user', target: sub('factor', 'factor_id'), changes: () => ({ factor: 'totp' }) },
  factor_removed: { action: 'user.factor.removed', actor: 'user', target: sub('factor', 'factor_id'), changes: () => ({ factor: 'totp' }) },
  recovery_codes_regenerated: { action: 'user.recovery_codes.regenerated', actor: 'user', target: own },
  passkey_added: { action: 'user.passkey.added', actor: 'user', target: sub('passkey', 'passkey_id'), changes: () => ({ factor: 'passkey' }) },
  passkey_renamed: { action: 'user.passkey.renamed', actor: 'user', target: sub('passkey', 'passkey_id') },
  passkey_removed: { action: 'user.passkey.removed', actor: 'user', target: sub('passkey', 'passkey_id'), changes: () => ({ factor: 'passkey' }) },
  passkey_counter_regression: { action: 'passkey.counter_regression', actor: 'system', target: sub('passkey', 'passkey_id') },
  identity_linked: {
    action: 'user.identity.linked',
    actor: 'user',
    target: sub('identity', 'identity_id'),
    changes: (d) => ({ provider: str(d, 'provider') }),
  },
  identity_unlinked: {
    action: 'user.identity.unlinked',
    actor: 'user',
    target: sub('identity', 'identity_id'),
    changes: (d) => ({ provider: str(d, 'provider') }),
  },
  logout_all: { action: 'user.sessions.revoked', actor: 'user', target: own, changes: (d) => ({ sessions_revoked: d?.sessions ?? 0 }) },
  session_revoked: { action: 'user.session.revoked', actor: 'user', target: sub('session', 'session_id') },
  refresh_token_reused: { action: 'session.reuse_detected', actor: 'system', target: sub('session', 'session_id') },
};
