import { DatabaseUnavailableError, driverErrorCode } from '../errors.js';

/**
 * better-sqlite3's errors that mean "the database cannot be used right now": the file is locked
 * past busy_timeout (SQLITE_BUSY), an I/O error (SQLITE_IOERR and its extended codes), the file
 * cannot be opened (SQLITE_CANTOPEN), or the connection is closed (during shutdown, or lost).
 */
function isOutage(err: unknown): boolean {
  const code = driverErrorCode(err);
  if (code !== undefined) return code === 'SQLITE_BUSY' || code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_IOERR');
  // better-sqlite3 throws a TypeError without a code once its connection is closed.
  return err instanceof TypeError && /database connection is not open/i.test(err.message);
}

/**
 * The error the Store contract rejects with: DatabaseUnavailableError for an outage, anything
 * else unchanged.
 *
 * @example
 * try { stmt.run(); } catch (err) { throw sqliteError(err); }
 */
export function sqliteError(err: unknown): unknown {
  return isOutage(err) ? new DatabaseUnavailableError(err) : err;
}

/**
 * A Store concern as the SQLite adapter writes it: better-sqlite3 is synchronous, so each method
 * returns its value (or, for the writes queued in the group commit, the batch's promise, whose
 * errors write-batch.ts translates). At most five parameters: `guardOutages` forwards five.
 */
export type SqliteConcern<T> = {
  [K in keyof T]: NonNullable<T[K]> extends (...args: infer A) => Promise<infer R>
    ? A extends [unknown?, unknown?, unknown?, unknown?, unknown?]
      ? (...args: A) => R | Promise<R>
      : never
    : T[K];
};

type Method = (a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown) => unknown;

/**
 * The concern's methods as the contract has them: each returns a promise, and rejects with
 * DatabaseUnavailableError on an outage. Once per store, at composition. Per call it costs a
 * try/catch and `Promise.resolve` (what an `async` method cost before): the arguments are
 * forwarded by position, not gathered into an array, and a queued write's promise is passed on
 * as it is.
 *
 * @example
 * const users = guardOutages<UserStore>({ findUserById: (id) => ... });
 */
export function guardOutages<T extends object>(methods: SqliteConcern<T>): T {
  const guarded: Record<string, Method> = {};
  for (const [name, method] of Object.entries(methods) as Array<[string, Method]>) {
    guarded[name] = (a, b, c, d, e) => {
      try {
        return Promise.resolve(method.call(methods, a, b, c, d, e));
      } catch (err) {
        return Promise.reject(sqliteError(err));
      }
    };
  }
  // Every method of `methods`, each wrapped with the same parameters and a promise of its result.
  return guarded as unknown as T;
}
