import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import type { RateLimitBucket, RateLimitConfig, RateRule } from '../../config.js';
import type { AppError } from '../../errors.js';
import { failureToError } from '../../http/failures.js';
import { retryLater } from '../../outcome.js';
import type { Metrics } from '../metrics/registry.js';
import type { RateCounter } from '../../store/types.js';
import { clientKeyer } from './client-key.js';
import type { CounterStore } from './counters.js';

export type RateBucket = RateLimitBucket;

/** Which bucket a route (path without the mount prefix) counts against; null = not limited. */
export function bucketFor(path: string): RateBucket | null {
  switch (path) {
    case '/auth/login':
    case '/auth/mfa/verify': // the second half of a login: the same per-IP budget
    case '/auth/mfa/passkey/options':
    case '/auth/passkeys/login/verify':
    case '/auth/mfa/enroll/totp': // the enrolment a MFA_REQUIRED_ROLES login demands: part of that login
    case '/auth/mfa/enroll/totp/confirm':
    case '/auth/mfa/enroll/passkey/options':
    case '/auth/mfa/enroll/passkey':
    case '/auth/oauth/exchange': // the end of a social sign-in: tokens, as a login
    case '/auth/email/sign-in/verify': // the end of an email sign-in: tokens, as a login
      return 'login';
    case '/auth/passkeys/login/options': // a stored challenge, no hash; asked at every view of an autofill sign-in page
      return 'passkey_options';
    case '/auth/register':
      return 'register';
    case '/oauth/token':
      return 'oauth_token';
    case '/oauth/interaction/:uid/login': // the provider's sign-in form: a password check, as a login
    case '/oauth/interaction/:uid/mfa':
      return 'login';
    case '/auth/refresh':
      return 'refresh';
    case '/auth/email/verify-request':
    case '/auth/email/verify-resend':
    case '/auth/password/forgot':
    case '/auth/email/sign-in':
      return 'mail';
    case '/auth/password/reset':
    case '/auth/invite/accept':
      return 'reset';
    case '/auth/email/verify':
      return 'verify';
    case '/auth/change-password':
    case '/auth/reauthenticate': // a password check with an access token: the same hash budget
    case '/auth/me/export': // a bulk read of the whole account: a person needs it rarely
      return 'change_password';
    case '/auth/revocations': // services with REVOCATION_FEED_TOKEN, paging the whole feed at start-up
    case '/auth/revocations/stream':
      return null;
  }
  if (path.startsWith('/auth/') || path.startsWith('/admin/') || path.startsWith('/oauth/')) return 'default';
  return null;
}

function ruleFor(config: RateLimitConfig, bucket: RateBucket): RateRule {
  return config.rateLimits[bucket];
}

/**
 * Per-client-IP limits on the auth routes (fixed windows). Every limited response carries
 * RateLimit-Limit / -Remaining / -Reset; past the limit: 429 RATE_LIMITED with Retry-After.
 * The client IP is `request.ip`: X-Forwarded-For counts only from TRUST_PROXY addresses. It is
 * counted under `clientKey` (IPv6 per RATE_LIMIT_IPV6_PREFIX network, mapped IPv4 as IPv4).
 * When the counter backend fails the request is let through (fail open) and a warning logged:
 * an outage of Redis must not become an outage of login.
 *
 * A callback-style onRequest hook: with the in-memory counters (`hitNow`) a request costs no
 * promise at all; the other backends answer asynchronously.
 */
export function rateLimitHook(config: RateLimitConfig, counters: CounterStore, clock: Clock, mountPrefix: string, metrics?: Metrics) {
  const enabled = config.rateLimitEnabled;
  // Per route: its bucket, rule and RateLimit-Limit value, worked out on its first request.
  const routes = new Map<string, { bucket: RateBucket; rule: RateRule; limit: string } | null>();
  const keyOf = clientKeyer(config.rateLimitIpv6Prefix);
  const limitOf = (url: string) => {
    let route = routes.get(url);
    if (route === undefined) {
      const bucket = bucketFor(url.slice(mountPrefix.length));
      const rule = bucket ? ruleFor(config, bucket) : null;
      route = bucket && rule ? { bucket, rule, limit: String(rule.limit) } : null;
      routes.set(url, route);
    }
    return route;
  };

  /** Sets the RateLimit-* headers; returns the 429 when the window is over its limit. */
  function apply(reply: FastifyReply, route: { bucket: RateBucket; rule: RateRule; limit: string }, count: number, resetAt: number): AppError | undefined {
    const resetSeconds = Math.max(0, Math.ceil((resetAt - clock()) / 1000));
    void reply.header('ratelimit-limit', route.limit);
    void reply.header('ratelimit-remaining', String(Math.max(0, route.rule.limit - count)));
    void reply.header('ratelimit-reset', String(resetSeconds));
    if (count <= route.rule.limit) return undefined;
    metrics?.rateLimited.inc({ bucket: route.bucket });
    const retryAfter = Math.max(1, resetSeconds);
    return failureToError(retryLater('RATE_LIMITED', `Too many requests; retry in ${retryAfter} s.`, retryAfter));
  }

  function counterFailed(request: FastifyRequest, bucket: RateBucket, err: unknown): void {
    request.log.warn({ err: { message: (err as Error).message }, bucket }, 'rate-limit counter unavailable; request allowed');
  }

  return function rateLimit(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    if (!enabled || request.method === 'OPTIONS') return done();
    const url = request.routeOptions.url;
    const route = url ? limitOf(url) : null;
    if (!route) return done();
    const key = `ip:${route.bucket}:${keyOf(request.ip)}`;
    if (counters.hitNow) {
      let w: Readonly<RateCounter>;
      try {
        w = counters.hitNow(key, route.rule.windowMs);
      } catch (err) {
        counterFailed(request, route.bucket, err);
        return done();
      }
      return done(apply(reply, route, w.count, w.resetAt));
    }
    counters.hit(key, route.rule.windowMs).then(
      (w) => done(apply(reply, route, w.count, w.resetAt)),
      (err: unknown) => {
        counterFailed(request, route.bucket, err);
        done();
      },
    );
  };
}
