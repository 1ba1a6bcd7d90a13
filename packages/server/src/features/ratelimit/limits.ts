import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import type { Config, RateRule } from '../../config.js';
import { AppError } from '../../errors.js';
import type { Metrics } from '../metrics/registry.js';
import type { CounterStore } from './counters.js';

export type RateBucket = 'login' | 'register' | 'refresh' | 'mail' | 'default';

/** Which bucket a route (path without the mount prefix) counts against; null = not limited. */
export function bucketFor(path: string): RateBucket | null {
  switch (path) {
    case '/auth/login':
      return 'login';
    case '/auth/register':
      return 'register';
    case '/auth/refresh':
      return 'refresh';
    case '/auth/email/verify-request':
    case '/auth/password/forgot':
      return 'mail';
  }
  if (path.startsWith('/auth/') || path.startsWith('/admin/')) return 'default';
  return null;
}

function ruleFor(config: Config, bucket: RateBucket): RateRule {
  return config.rateLimits[bucket];
}

/**
 * Per-client-IP limits on the auth routes (fixed windows). Every limited response carries
 * RateLimit-Limit / -Remaining / -Reset; past the limit: 429 RATE_LIMITED with Retry-After.
 * The client IP is `request.ip`: X-Forwarded-For counts only from TRUST_PROXY addresses.
 * When the counter backend fails the request is let through (fail open) and a warning logged:
 * an outage of Redis must not become an outage of login.
 */
export function rateLimitHook(config: Config, counters: CounterStore, clock: Clock, mountPrefix: string, metrics?: Metrics) {
  return async function rateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!config.rateLimitEnabled || request.method === 'OPTIONS') return;
    const url = request.routeOptions.url;
    if (!url) return;
    const bucket = bucketFor(url.slice(mountPrefix.length));
    if (!bucket) return;
    const rule = ruleFor(config, bucket);
    let count: number;
    let resetAt: number;
    try {
      ({ count, resetAt } = await counters.hit(`ip:${bucket}:${request.ip}`, rule.windowMs));
    } catch (err) {
      request.log.warn({ err: { message: (err as Error).message }, bucket }, 'rate-limit counter unavailable; request allowed');
      return;
    }
    const resetSeconds = Math.max(0, Math.ceil((resetAt - clock()) / 1000));
    void reply.header('ratelimit-limit', String(rule.limit));
    void reply.header('ratelimit-remaining', String(Math.max(0, rule.limit - count)));
    void reply.header('ratelimit-reset', String(resetSeconds));
    if (count > rule.limit) {
      metrics?.rateLimited.inc({ bucket });
      throw new AppError('RATE_LIMITED', {
        detail: `Too many requests; retry in ${Math.max(1, resetSeconds)} s.`,
        headers: { 'retry-after': String(Math.max(1, resetSeconds)) },
      });
    }
  };
}
