/** What every adapter has besides its concerns: its name, a liveness probe, and its end. */

export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres';
  /** The database server's clock (epoch ms), where it has one; used to detect skew. */
  serverTime?(): Promise<number>;
  /** Cheap round-trip used by /health/ready. Throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Connection-pool figures for /metrics; adapters without a pool omit it. */
  poolStats?(): { total: number; idle: number; waiting: number } | null;
}
