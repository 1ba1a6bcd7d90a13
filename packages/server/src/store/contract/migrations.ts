/** The migrations concern of the storage contract: the schema each adapter keeps. */

/**
 * One versioned step of an adapter's schema. Append only: never edit a released entry. Both
 * adapters have the same versions with the same names (a test checks it), so a database moved
 * between adapters is at the same schema version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface MigrationStore {
  /** Applies pending migrations; idempotent. Returns the versions applied by this call. */
  migrate(): Promise<number[]>;
  /** Versions not applied yet (read only; `latchkey doctor`). */
  pendingMigrations(): Promise<number[]>;
}
