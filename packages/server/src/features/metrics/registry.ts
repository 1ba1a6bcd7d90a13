import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Pool figures an adapter may expose (PostgreSQL); SQLite has no pool. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * The Prometheus metrics. Created for every app (incrementing a counter is cheap) but served
 * only when METRICS_TOKEN or METRICS_PORT is set. Each app has its own registry, so several
 * apps in one process (tests, embedded mode) do not collide.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly logins: Counter<'result'>;
  readonly refreshes: Counter<'result'>;
  readonly reuseDetections: Counter;
  readonly rateLimited: Counter<'bucket'>;

  constructor(sources: { hashQueue: () => { depth: number; active: number }; pool: () => PoolStats | null }) {
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
