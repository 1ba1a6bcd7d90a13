/** Types of local-services.mjs (throwaway PostgreSQL, Redis and nginx for tests and demos). */

export function freePort(): Promise<number>;

export function findPostgresBin(): string | null;

export interface PostgresCluster {
  readonly dir: string;
  readonly port: number;
  /** Superuser URL of the `postgres` database: postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly pid: number | null;
  readonly running: boolean;
  /** (Re)starts the cluster on the same port and data directory; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): connections are terminated, the data is kept. */
  stop(): Promise<void>;
  /** Stops the cluster and deletes its directory. */
  destroy(): Promise<void>;
  /** The last lines of the server log. */
  log(): string;
}

export interface StartPostgresOptions {
  bin?: string;
  parent?: string;
  port?: number;
  maxConnections?: number;
  settings?: Record<string, string>;
}

export function startPostgres(options?: StartPostgresOptions): Promise<PostgresCluster>;

export function createDatabase(adminUrl: string, prefix?: string): Promise<string>;

export function dropDatabase(adminUrl: string, databaseUrl: string): Promise<void>;

export function findRedisServer(): string | null;

export interface LocalServer {
  readonly dir: string;
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  stop(): Promise<void>;
}

export function startRedis(options?: { bin?: string; parent?: string; port?: number }): Promise<LocalServer>;

export function findNginx(): string | null;

export function nginxConfig(options: { dir: string; port: number; upstreams: number[]; user: string | null }): string;

export function startNginx(options: { upstreams: number[]; port?: number; parent?: string }): Promise<LocalServer & { configFile: string }>;
