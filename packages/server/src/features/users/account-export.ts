/**
 * GET /auth/me/export (docs/account.md): everything Latchkey holds about the caller, in the shapes
 * the other self-service routes already answer (/auth/me, /auth/sessions, /auth/identities,
 * /auth/events), so that nothing new is disclosed by the export itself.
 *
 * What is left out, on purpose: the password hash, the TOTP secret, recovery-code hashes, refresh
 * and one-time token hashes, passkey credential ids and public keys, provider subjects, and the
 * in-flight sign-in states (challenges, OAuth states, exchange codes: minutes-long and useless to
 * a reader). Each is either a secret, or an identifier that helps an attacker more than it informs
 * the user.
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { failure, success, type Outcome } from '../../outcome.js';
import { recordEvent } from '../events/service.js';
import { publicEvent } from '../events/routes.js';
import { publicPasskey, type PublicPasskey } from '../factors/passkey-service.js';
import { activeTotp } from '../factors/service.js';
import type { AuthState } from '../sessions/authenticate.js';
import { listSessions } from '../sessions/service.js';
import { listUserIdentities, type PublicIdentity } from '../social/service.js';
import { publicUser, type PublicUser } from './public-user.js';

/**
 * The most security events an export carries, newest first. EVENTS_RETENTION bounds what is
 * kept (90 days by default); this bounds the answer for an account that signs in by script.
 */
export const EXPORT_EVENTS_LIMIT = 10_000;

export interface AccountExport {
  exported_at: string;
  user: PublicUser & { last_sign_in_at: string | null; has_password: boolean };
  sessions: Awaited<ReturnType<typeof listSessions>>;
  identities: PublicIdentity[];
  factors: {
    totp: { enabled: boolean; created_at: string; confirmed_at: string | null; last_used_at: string | null } | null;
    recovery_codes: { remaining: number } | null;
    passkeys: PublicPasskey[];
  };
  security_events: Array<ReturnType<typeof publicEvent>>;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * The caller's data export, and the `account_exported` event (recorded before reading the
 * events, so the export shows itself).
 *
 * @example
 * const data = unwrap(await exportAccount(ctx, request.auth!, requestMeta(request)));
 */
export async function exportAccount(ctx: LatchkeyContext, auth: AuthState, meta: RequestMeta): Promise<Outcome<AccountExport>> {
  const userId = auth.user.id;
  await recordEvent(ctx, userId, 'account_exported', meta, { session_id: auth.session.id });
  const user = await ctx.store.findUserById(userId);
  if (!user) return failure('UNAUTHORIZED', 'The account no longer exists.');
  const [sessions, identities, factors, recoveryCodes, passkeys, events] = await Promise.all([
    listSessions(ctx, userId, auth.session.id),
    listUserIdentities(ctx, user),
    ctx.store.listFactors(userId),
    ctx.store.countRecoveryCodes(userId),
    ctx.store.listPasskeys(userId),
    ctx.store.listEvents(userId, EXPORT_EVENTS_LIMIT),
  ]);
  const totp = factors.find((f) => f.kind === 'totp');
  const active = activeTotp(factors) !== undefined;
  return success({
    exported_at: new Date(ctx.clock()).toISOString(),
    user: { ...publicUser(user), last_sign_in_at: iso(user.lastSignInAt), has_password: identities.has_password },
    sessions,
    identities: identities.identities,
    factors: {
      totp: totp ? { enabled: totp.confirmedAt !== null, created_at: iso(totp.createdAt)!, confirmed_at: iso(totp.confirmedAt), last_used_at: iso(totp.lastUsedAt) } : null,
      // Recovery codes come with an authenticator app: none unless one is active or codes remain.
      recovery_codes: active || recoveryCodes > 0 ? { remaining: recoveryCodes } : null,
      passkeys: passkeys.map(publicPasskey),
    },
    security_events: events.map(publicEvent),
  });
}
