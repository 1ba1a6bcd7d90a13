/**
 * The one error every adapter throws when the database cannot be reached right now (server
 * down or restarting, connections refused or exhausted, file locked past the busy timeout,
 * connection closed). Each adapter translates its own driver's outage errors into it at its
 * boundary (store/sqlite/errors.ts, store/postgres/errors.ts), so that nothing above the store
 * knows a driver's codes: the HTTP error handler answers it 503 with Retry-After.
 *
 * The message is the driver's (it names the cause, never a secret: no statement parameters),
 * `code` the driver's code when it had one, and `cause` the original error.
 *
 * @example
 * try {
 *   await store.findUserById(id);
 * } catch (err) {
 *   if (err instanceof DatabaseUnavailableError) return retryLater();
 *   throw err;
 * }
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  /** The driver's code (ECONNREFUSED, 57P01, SQLITE_BUSY, ...); undefined when it had none. */
  readonly code: string | undefined;

  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : 'the database is unavailable', { cause });
    this.code = driverErrorCode(cause);
  }
}

/** The `code` of a driver's error (a string for node:net, pg and better-sqlite3), if any. */
export function driverErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A SQLite database whose directory does not exist. Only the data directory (`./data`, where the
 * default `sqlite:./data/latchkey.db` lives) is made when missing: a path with a typo must not
 * silently become a new, empty database in a directory nobody meant to create.
 */
export class DatabaseDirectoryMissingError extends Error {
  override readonly name = 'DatabaseDirectoryMissingError';

  constructor(readonly directory: string) {
    super(`the directory ${directory} does not exist`);
  }
}
