import type { Clock } from '../../clock.js';
import type { RateLimitConfig } from '../../config.js';
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { clientKeyer } from './client-key.js';
import type { CounterStore } from './counters.js';

/** What the fail-open helpers below use of the context. */
type BackoffContext = Pick<LatchkeyContext, 'config' | 'backoff' | 'log'>;

export interface BackoffState {
  /** Seconds until the next attempt is allowed; 0 when not locked. */
  retryAfter: number;
}

/**
 * Exponential backoff on failed logins, keyed by account AND client IP (counted under
 * `clientKey`: an IPv6 client is its RATE_LIMIT_IPV6_PREFIX network, as in the per-IP limits).
 *
 * After LOGIN_BACKOFF_THRESHOLD failures within LOGIN_FAILURE_WINDOW, that (email, IP) pair is
 * locked for LOGIN_BACKOFF_BASE x 2^(failures - threshold), capped at LOGIN_BACKOFF_MAX. While
 * locked, attempts from that IP are answered 429 without checking the password.
 *
 * Why the real user cannot be locked out indefinitely: the lock is per (account, IP), so an
 * attacker's failures lock only the attacker's address, not the user's; every lock expires by
 * itself (capped), and the failure count itself expires with its window; a success resets it.
 * Keys use the normalised email whether or not the account exists (no enumeration).
 */
export class LoginBackoff {
  private readonly counters: CounterStore;
  private readonly keyOf: (ip: string) => string;

  constructor(
    private readonly config: RateLimitConfig,
    counters: CounterStore,
    private readonly clock: Clock,
  ) {
    // Failures are few and a lock must engage at exactly the threshold: never batched.
    this.counters = counters.exact ?? counters;
    this.keyOf = clientKeyer(config.rateLimitIpv6Prefix);
  }

  private keys(email: string, ip: string | null): { failures: string; lock: string } {
    const id = `${email}|${ip === null ? '-' : this.keyOf(ip)}`;
    return { failures: `lf:${id}`, lock: `ll:${id}` };
  }

  /** The remaining lock, if any. */
  async check(email: string, ip: string | null): Promise<BackoffState> {
    const lock = await this.counters.peek(this.keys(email, ip).lock);
    if (!lock) return { retryAfter: 0 };
    return { retryAfter: Math.max(1, Math.ceil((lock.resetAt - this.clock()) / 1000)) };
  }

  /** Counts a failure; returns the lock it triggered (retryAfter > 0) or none. */
  async fail(email: string, ip: string | null): Promise<BackoffState & { failures: number }> {
    const keys = this.keys(email, ip);
    const { count } = await this.counters.hit(keys.failures, this.config.loginFailureWindowMs);
    const over = count - this.config.loginBackoffThreshold;
    if (over < 0) return { retryAfter: 0, failures: count };
    const lockMs = Math.min(this.config.loginBackoffBaseMs * 2 ** Math.min(over, 30), this.config.loginBackoffMaxMs);
    await this.counters.reset(keys.lock);
    await this.counters.hit(keys.lock, lockMs);
    return { retryAfter: Math.ceil(lockMs / 1000), failures: count };
  }

  async succeed(email: string, ip: string | null): Promise<void> {
    const keys = this.keys(email, ip);
    await Promise.all([this.counters.reset(keys.failures), this.counters.reset(keys.lock)]);
  }
}

/**
 * Seconds the (account, client IP) pair is still locked by the login backoff; 0 when it is not
 * (or rate limiting is off). Fails open: an unreachable counter store must not stop logins. Used
 * by login and by change-password, whose wrong current passwords count toward the same lock.
 *
 * @example
 * const locked = await backoffCheck(ctx, 'ann@example.com', requestMeta(request));
 * if (locked > 0) return retryLater('RATE_LIMITED', `Too many failed logins; retry in ${locked} s.`, locked);
 */
export async function backoffCheck(ctx: BackoffContext, email: string, meta: RequestMeta): Promise<number> {
  if (!ctx.config.rateLimit.rateLimitEnabled) return 0;
  try {
    return (await ctx.backoff.check(email, meta.ip)).retryAfter;
  } catch (err) {
    ctx.log.warn({ err: { message: (err as Error).message } }, 'login backoff unavailable; attempt allowed');
    return 0;
  }
}

/**
 * Counts a failed password check of the (account, client IP) pair; returns the lock it triggered
 * (`retryAfter` > 0) and the failures so far. Fails open like `backoffCheck`.
 *
 * @example
 * const lock = await backoffFail(ctx, 'ann@example.com', requestMeta(request));
 */
export async function backoffFail(ctx: BackoffContext, email: string, meta: RequestMeta): Promise<BackoffState & { failures: number }> {
  if (!ctx.config.rateLimit.rateLimitEnabled) return { retryAfter: 0, failures: 0 };
  try {
    return await ctx.backoff.fail(email, meta.ip);
  } catch (err) {
    ctx.log.warn({ err: { message: (err as Error).message } }, 'login backoff unavailable');
    return { retryAfter: 0, failures: 0 };
  }
}
