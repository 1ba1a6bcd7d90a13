import Database from 'better-sqlite3';
import { createPrivateFile } from '../../lib/private-files.js';
import { ensureSqliteDirectory } from '../database-url.js';
import { SqliteWriteBatch } from './write-batch.js';

/**
 * One SQLite file in WAL mode, shared by the concern files of the adapter: the connection, the
 * group commit of its hot writes, and each concern's prepared statements.
 */
export class SqliteConnection {
  readonly db: Database.Database;
  /** The hot writes (rotations, new sessions, security events) share one commit per turn. */
  readonly writes: SqliteWriteBatch;
  readonly #forget: Array<() => void> = [];

  constructor(path: string) {
    if (path !== ':memory:') {
      // It holds the private signing keys and the password hashes: a new database and the
      // directory made for it are the owner's only (-wal and -shm follow the file's mode). Only
      // the data directory is made when missing (ensureSqliteDirectory).
      ensureSqliteDirectory(path);
      createPrivateFile(path);
    }
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across a process crash in WAL mode; only an OS crash can lose the tail.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.writes = new SqliteWriteBatch(this.db);
  }

  /**
   * A concern's statements, prepared at first use (the tables exist only once migrated) and
   * again after a migration.
   *
   * @example
   * const s = connection.statements((db) => ({ userById: db.prepare('SELECT * FROM users WHERE id = ?') }));
   * s().userById.get(id);
   */
  statements<T>(prepare: (db: Database.Database) => T): () => T {
    let prepared: T | undefined;
    this.#forget.push(() => {
      prepared = undefined;
    });
    return () => (prepared ??= prepare(this.db));
  }

  /** Drops every prepared statement set (after a migration changed the schema). */
  forgetStatements(): void {
    for (const forget of this.#forget) forget();
  }
}
