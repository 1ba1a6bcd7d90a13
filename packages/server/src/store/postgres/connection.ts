import { Pool, types as pgTypes, type CustomTypesConfig, type PoolClient, type QueryResultRow } from 'pg';
import { driverErrorCode } from '../errors.js';
import { postgresError } from './errors.js';

const INT8_OID = 20;

/**
 * BIGINT columns hold epoch milliseconds, far below 2^53: read them as numbers. Set per pool so
 * that a host application sharing the `pg` module keeps its own parsers.
 */
const parseInt8 = (value: string): number => Number(value);
const typeParsers: CustomTypesConfig = {
  // Asked once per column of every result (pg describes each statement's result), so no closure
  // is made per call.
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pgTypes.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

/** Transaction failures that succeed when simply run again. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

/** A serialization failure or a deadlock: the statement or transaction may simply run again. */
export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has(driverErrorCode(err) ?? '');
}

// An error on a client that is checked out but between queries would otherwise be an unhandled
// 'error' event and end the process; the failure surfaces on the next query instead.
function ignoreClientError(): void {}

export interface PostgresStoreOptions {
  /** Connections this process keeps at most (DATABASE_POOL_SIZE). */
  poolSize: number;
  /** How long a request waits for a connection before failing (then answered 503); default 5 s. */
  connectionTimeoutMs?: number;
}

/**
 * The pool shared by the concern files of the adapter, and its query helpers. Every statement
 * goes through them (or, on the two hot paths, straight to the pool with the same translation
 * in their own error handling): an outage leaves the store as DatabaseUnavailableError.
 */
export class PgConnection {
  readonly pool: Pool;

  constructor(url: string, options: PostgresStoreOptions) {
    this.pool = new Pool({
      connectionString: url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'latchkey',
      types: typeParsers,
    });
    // An idle connection that the server drops (restart, failover, idle timeout) is reported
    // here. The pool has already discarded it and the next query opens a new one, so there is
    // nothing to do, but without a listener the event would crash the process.
    this.pool.on('error', () => undefined);
  }

  /** The rows of one statement. */
  async query<R extends QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw postgresError(err);
    }
  }

  /** The number of rows one statement changed. */
  async execute(text: string, values: unknown[] = []): Promise<number> {
    try {
      return (await this.pool.query(text, values)).rowCount ?? 0;
    } catch (err) {
      throw postgresError(err);
    }
  }

  /** Runs `fn` in one transaction on one connection; retried on deadlock or serialization failure. */
  async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw postgresError(err);
      }
      client.on('error', ignoreClientError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          // The connection itself failed: destroy it rather than return it to the pool.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error('rollback failed');
        });
        if (!broken && attempt < 3 && isRetryable(err)) continue;
        throw postgresError(err);
      } finally {
        client.off('error', ignoreClientError);
        client.release(broken);
      }
    }
  }
}
