import type { Counter, Histogram, Registry } from 'prom-client';

/** Pool figures an adapter may expose (PostgreSQL); SQLite has no pool. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Where the gauges read their values when scraped. */
export interface MetricSources {
  hashQueue: () => { depth: number; active: number };
  pool: () => PoolStats | null;
}

/**
 * What the features record. Served only when METRICS_TOKEN or METRICS_PORT is set; otherwise
 * every method is a no-op and prom-client is never loaded (it and its default collectors cost
 * start-up time, memory, and a callback on every garbage collection).
 */
export interface Metrics {
  readonly httpRequests: Pick<Counter<'method' | 'route' | 'status'>, 'inc'>;
  readonly httpDuration: Pick<Histogram<'method' | 'route' | 'status'>, 'observe'>;
  readonly logins: Pick<Counter<'result'>, 'inc'>;
  readonly refreshes: Pick<Counter<'result'>, 'inc'>;
  readonly reuseDetections: Pick<Counter, 'inc'>;
  readonly rateLimited: Pick<Counter<'bucket'>, 'inc'>;
  /** The registry to scrape; null when metrics are not served. */
  readonly registry: Registry | null;
}

const ignore = (): void => undefined;

/** The metrics of a server that does not serve them. */
export const DISABLED_METRICS: Metrics = Object.freeze({
  httpRequests: { inc: ignore },
  httpDuration: { observe: ignore },
  logins: { inc: ignore },
  refreshes: { inc: ignore },
  reuseDetections: { inc: ignore },
  rateLimited: { inc: ignore },
  registry: null,
});

/**
 * The Prometheus metrics when `enabled` (prom-client is loaded then), else `DISABLED_METRICS`.
 * Each app has its own registry, so several apps in one process (tests, embedded mode) do not
 * collide.
 *
 * @example
 * const metrics = await createMetrics(config.metrics.metricsToken !== null || config.metrics.metricsPort !== null, sources);
 */
export async function createMetrics(enabled: boolean, sources: MetricSources): Promise<Metrics> {
  if (!enabled) return DISABLED_METRICS;
  return new PrometheusMetrics(await import('prom-client'), sources);
}

class PrometheusMetrics implements Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly logins: Counter<'result'>;
  readonly refreshes: Counter<'result'>;
  readonly reuseDetections: Counter;
  readonly rateLimited: Counter<'bucket'>;

  constructor(prom: typeof import('prom-client'), sources: MetricSources) {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = prom;
    this.registry = new Registry();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_' });
    this.httpRequests = new Counter({
      name: 'latchkey_http_requests_total',
      help: 'HTTP requests by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'HTTP request latency by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.logins = new Counter({
      name: 'latchkey_logins_total',
      help: 'Login attempts by result (succeeded, failed, locked, disabled, unverified)',
      labelNames: ['result'],
      registers,
    });
    this.refreshes = new Counter({
      name: 'latchkey_refreshes_total',
      help: 'Refresh-token exchanges by result (rotated, grace, reused, invalid)',
      labelNames: ['result'],
      registers,
    });
    this.reuseDetections = new Counter({
      name: 'latchkey_refresh_token_reuse_total',
      help: 'Refresh tokens replayed after the grace window (sessions revoked)',
      registers,
    });
    this.rateLimited = new Counter({
      name: 'latchkey_rate_limited_total',
      help: 'Requests refused with 429 by bucket (login, register, refresh, mail, default, backoff)',
      labelNames: ['bucket'],
      registers,
    });
    new Gauge({
      name: 'latchkey_hash_queue_depth',
      help: 'Password hashes waiting for a slot',
      registers,
      collect() {
        this.set(sources.hashQueue().depth);
      },
    });
    new Gauge({
      name: 'latchkey_hash_active',
      help: 'Password hashes running',
      registers,
      collect() {
        this.set(sources.hashQueue().active);
      },
    });
    new Gauge({
      name: 'latchkey_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting clients); absent on SQLite',
      labelNames: ['state'],
      registers,
      collect() {
        const p = sources.pool();
        if (!p) return;
        this.set({ state: 'total' }, p.total);
        this.set({ state: 'idle' }, p.idle);
        this.set({ state: 'waiting' }, p.waiting);
      },
    });
  }
}
