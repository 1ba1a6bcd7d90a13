import { DatabaseUnavailableError, driverErrorCode } from '../errors.js';

/** Codes of node:net (the server cannot be reached) and of PostgreSQL (it cannot serve now). */
const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);

// pg and pg-pool's own errors carry no code. "timeout exceeded when trying to connect" is
// pg-pool's: every connection busy for connectionTimeoutMillis. "Connection terminated" (also
// "... due to connection timeout", "... unexpectedly") and "Client has encountered a connection
// error" are pg's once a connection is lost or cannot be made.
const OUTAGE_MESSAGE = /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i;

/**
 * The error the Store contract rejects with: DatabaseUnavailableError for an outage, anything
 * else (a constraint violation, a bug) unchanged.
 *
 * @example
 * try { await pool.query(text, values); } catch (err) { throw postgresError(err); }
 */
export function postgresError(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const code = driverErrorCode(err);
  const message = (err as { message?: unknown }).message;
  const outage = (code !== undefined && OUTAGE_CODES.has(code)) || (typeof message === 'string' && OUTAGE_MESSAGE.test(message));
  return outage ? new DatabaseUnavailableError(err) : err;
}
