import { ConfigError, type RateLimitConfig } from '../../config.js';

export type CounterBackend = 'memory' | 'redis' | 'database' | 'primary';

/**
 * Which processes serve the same clients next to this one:
 * - `none`: this process alone (one `serve`, or an embedded app);
 * - `latchkey`: a worker of `latchkey serve --workers N`, whose primary holds counters for them;
 * - `foreign`: a worker of some other node:cluster (a host app's), with no such primary.
 */
export type ClusterMode = 'none' | 'latchkey' | 'foreign';

/**
 * Where the rate-limit and login-backoff counters live: RATE_LIMIT_STORE, or with `auto` Redis
 * when REDIS_URL is set, else the database on PostgreSQL (several instances may share it), else
 * memory (SQLite: one machine).
 *
 * Memory means the memory of the server, not of each process: under `serve --workers N` the
 * primary holds the counters and the workers count against them (`primary`), so that a limit is
 * not multiplied by N. A worker of another cluster has no such primary: `auto` then means the
 * database, and an explicit `memory` (with rate limiting on) is refused rather than run with
 * limits N times weaker than they say.
 *
 * @example
 * counterBackend(config.rateLimit, 'sqlite', 'latchkey'); // 'primary'
 */
export function counterBackend(config: RateLimitConfig, storeKind: 'sqlite' | 'postgres', cluster: ClusterMode): CounterBackend {
  const wanted =
    config.rateLimitStore !== 'auto'
      ? config.rateLimitStore
      : config.redisUrl
        ? 'redis'
        : storeKind === 'postgres' || cluster === 'foreign'
          ? 'database'
          : 'memory';
  if (wanted !== 'memory' || cluster === 'none') return wanted;
  if (cluster === 'latchkey') return 'primary';
  if (!config.rateLimitEnabled) return 'memory';
  throw new ConfigError(
    'RATE_LIMIT_STORE',
    'memory counts in each process of this cluster alone: every rate limit and the login backoff would be as many times weaker as there are workers. ' +
      'Leave it unset (auto: the database, or Redis when REDIS_URL is set), or set database or redis.',
  );
}
