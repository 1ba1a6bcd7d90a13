/**
 * Housekeeping: what the PURGE_INTERVAL timer deletes. Ended sessions with their refresh tokens,
 * spent refresh tokens, used or expired one-time tokens and ended rate-limit windows
 * (`purgeSessions`), security events older than EVENTS_RETENTION (`purgeOldEvents`), expired
 * passkey challenges (`purgePasskeyChallenges`), social sign-in states (`purgeOAuthStates`), email
 * sign-in challenges (`purgeEmailSignInChallenges`), expired OAuth provider rows
 * (`purgeOAuthPayloads`), revocation feed entries past their window
 * (`purgeRevocations`), finished webhook deliveries older than EVENTS_RETENTION
 * (`purgeOldWebhookDeliveries`), accounts whose self-service deletion fell due (ACCOUNT_DELETION_GRACE,
 * `purgeDueAccounts` in features/users/account-deletion.ts), and audit entries older than
 * AUDIT_RETENTION (`purgeOldAudit`, features/audit: the only deletion of the append-only log).
 */
import type { SessionsConfig } from '../../config.js';
import type { LatchkeyContext } from '../../context.js';
import { purgeOldAudit } from '../audit/service.js';
import { expiredUpTo, feedWindowMs } from '../sessions/revocation-feed.js';
import { purgeDueAccounts } from '../users/account-deletion.js';

/** Rows of each kind (sessions, spent tokens) deleted per statement. */
export const PURGE_BATCH_SIZE = 1000;
/** Batches per purge run; the rest waits for the next PURGE_INTERVAL. */
export const PURGE_MAX_BATCHES = 50;

/**
 * How long spent refresh tokens (and revoked sessions) are kept: the idle timeout. A replay of
 * a spent token within that time is still recognised as reuse and ends the session; after it
 * the token is simply unknown (401 INVALID_REFRESH_TOKEN).
 */
export function purgeRetentionMs(config: Pick<SessionsConfig, 'sessionIdleTimeoutMs' | 'refreshGraceMs'>): number {
  return Math.max(config.sessionIdleTimeoutMs, config.refreshGraceMs);
}

export interface PurgeOptions {
  batchSize?: number;
  maxBatches?: number;
}

/**
 * Deletes ended sessions (expired, idle, revoked longer than the retention ago) and old spent
 * refresh tokens in bounded batches, yielding to the event loop between batches so that a
 * large backlog never holds the database (or, with SQLite, the process) for long.
 * Returns the number of rows deleted (tokens removed with their session are not counted).
 *
 * @example
 * const deleted = await purgeSessions(ctx); // what the PURGE_INTERVAL timer runs
 */
export async function purgeSessions(ctx: LatchkeyContext, options: PurgeOptions = {}): Promise<number> {
  const batchSize = options.batchSize ?? PURGE_BATCH_SIZE;
  const maxBatches = options.maxBatches ?? PURGE_MAX_BATCHES;
  const retentionMs = purgeRetentionMs(ctx.config.sessions);
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const deleted = await ctx.store.purgeExpired(ctx.clock(), retentionMs, batchSize);
    total += deleted;
    if (deleted === 0) break;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return total;
}

/**
 * Security events older than EVENTS_RETENTION, at most `limit` per run.
 *
 * @example
 * const deleted = await purgeOldEvents(ctx);
 */
export function purgeOldEvents(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgeEvents(ctx.clock() - ctx.config.housekeeping.eventsRetentionMs, limit);
}

/**
 * Finished webhook deliveries (succeeded or exhausted) older than EVENTS_RETENTION, at most `limit`
 * per run: the delivery log keeps each body sent (a user.deleted carries the user as it was), so
 * it is kept as long as the security events, not for ever.
 *
 * @example
 * const deleted = await purgeOldWebhookDeliveries(ctx);
 */
export function purgeOldWebhookDeliveries(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgeWebhookDeliveries(ctx.clock() - ctx.config.housekeeping.eventsRetentionMs, limit);
}

/**
 * Passkey challenges past their 5 minutes, at most `limit` per run (a spent one is already gone).
 *
 * @example
 * const deleted = await purgePasskeyChallenges(ctx);
 */
export function purgePasskeyChallenges(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgePasskeyChallenges(ctx.clock(), limit);
}

/**
 * Social sign-in states past their 10 minutes and exchange codes past their 2, at most `limit`
 * of each per run (spent ones are already gone).
 *
 * @example
 * const deleted = await purgeOAuthStates(ctx);
 */
export function purgeOAuthStates(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgeOAuthStates(ctx.clock(), limit);
}

/**
 * Email sign-in challenges past their EMAIL_SIGN_IN_TTL, at most `limit` per run (spent ones are
 * already gone).
 *
 * @example
 * const deleted = await purgeEmailSignInChallenges(ctx);
 */
export function purgeEmailSignInChallenges(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgeEmailSignInChallenges(ctx.clock(), limit);
}

/**
 * oidc-provider's rows (codes, tokens, sessions, interactions, grants) past their expiry, at most
 * `limit` per run. A consumed refresh token stays until it expires: its reuse is detected by it.
 *
 * @example
 * const deleted = await purgeOAuthPayloads(ctx);
 */
export function purgeOAuthPayloads(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgeExpiredOAuthPayloads(ctx.clock(), limit);
}

/**
 * Revocation feed entries no token of theirs can outlive (revoked more than ACCESS_TOKEN_TTL +
 * 60 s ago), at most `limit` per run.
 *
 * @example
 * const deleted = await purgeRevocations(ctx);
 */
export function purgeRevocations(ctx: LatchkeyContext, limit = PURGE_BATCH_SIZE): Promise<number> {
  return ctx.store.purgeRevocations(expiredUpTo(ctx.clock(), feedWindowMs(ctx.config.tokens)), limit);
}

/**
 * Runs the purges every PURGE_INTERVAL (the timer does not keep the process alive); returns the
 * function that stops it. A failed run is logged and the next one tries again.
 *
 * @example
 * const stop = startHousekeeping(ctx);
 * app.addHook('onClose', async () => stop());
 */
export function startHousekeeping(ctx: LatchkeyContext): () => void {
  const timer = setInterval(() => {
    void purgeSessions(ctx)
      .then(async (n) => n + (await purgeOldEvents(ctx)))
      .then(async (n) => n + (await purgePasskeyChallenges(ctx)))
      .then(async (n) => n + (await purgeOAuthStates(ctx)))
      .then(async (n) => n + (await purgeEmailSignInChallenges(ctx)))
      .then(async (n) => n + (await purgeOAuthPayloads(ctx)))
      .then(async (n) => n + (await purgeRevocations(ctx)))
      .then(async (n) => n + (await purgeOldWebhookDeliveries(ctx)))
      .then(async (n) => n + (await purgeDueAccounts(ctx)))
      .then(async (n) => n + (await purgeOldAudit(ctx, PURGE_BATCH_SIZE)))
      .then((n) => n > 0 && ctx.log.info({ purged: n }, 'purged expired sessions, tokens, old events and audit entries'))
      .catch((err: unknown) => ctx.log.warn({ err }, 'purge failed'));
  }, ctx.config.housekeeping.purgeIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
