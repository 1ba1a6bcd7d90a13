import type Database from 'better-sqlite3';
import type { Store, StoreConcerns } from '../types.js';
import { sqliteAudit } from './audit.js';
import { SqliteConnection } from './connection.js';
import { sqliteEmailSignIn } from './email-sign-in.js';
import { sqliteFactors } from './factors.js';
import { sqlitePasskeys } from './passkeys.js';
import { sqliteIdentities } from './identities.js';
import { sqliteError } from './errors.js';
import { migrateSqlite, sqliteMigrations } from './migrations.js';
import { sqliteOAuthClients } from './oauth-clients.js';
import { sqliteOAuthPayloads } from './oauth-payloads.js';
import { sqliteOneTimeTokens } from './one-time-tokens.js';
import { sqliteRateCounters } from './rate-counters.js';
import { sqliteRevocations } from './revocations.js';
import { sqliteSecurityEvents } from './security-events.js';
import { sqliteSessions } from './sessions.js';
import { sqliteSigningKeys } from './signing-keys.js';
import { sqliteUsers } from './users.js';
import { sqliteWebhooks } from './webhooks.js';

// The concern methods, set on each instance by the constructor (declaration merging: the class
// gets their types, the `concerns` object there proves that every one is present).
export interface SqliteStore extends StoreConcerns {}

/**
 * The embedded adapter: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every
 * method runs to completion without yielding; write transactions use BEGIN IMMEDIATE so that
 * several processes (cluster workers) on the same file still serialise correctly. The writes of
 * the hot paths (refresh rotations, new sessions, security events) are queued instead and run
 * together at the end of the event-loop turn, in one transaction (write-batch.ts).
 *
 * One file per concern (users.ts, sessions.ts, ...), each a function of the shared connection
 * returning that concern's methods; this class composes them into the one Store object.
 *
 * @example
 * const store = new SqliteStore('./data/latchkey.db');
 * await store.migrate();
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  readonly #connection: SqliteConnection;

  constructor(path: string) {
    const connection = new SqliteConnection(path);
    this.#connection = connection;
    this.db = connection.db;
    const concerns: StoreConcerns = {
      ...sqliteMigrations(connection),
      ...sqliteUsers(connection),
      ...sqliteSessions(connection),
      ...sqliteSigningKeys(connection),
      ...sqliteSecurityEvents(connection),
      ...sqliteOneTimeTokens(connection),
      ...sqliteFactors(connection),
      ...sqliteEmailSignIn(connection),
      ...sqlitePasskeys(connection),
      ...sqliteIdentities(connection),
      ...sqliteRateCounters(connection),
      ...sqliteAudit(connection),
      ...sqliteWebhooks(connection),
      ...sqliteRevocations(connection),
      ...sqliteOAuthClients(connection),
      ...sqliteOAuthPayloads(connection),
    };
    Object.assign(this, concerns);
  }

  /** `migrate` without a promise (tests and benchmarks that set a file up). */
  migrateSync(): number[] {
    return migrateSqlite(this.#connection);
  }

  async ping(): Promise<void> {
    try {
      this.db.prepare('SELECT 1').get();
    } catch (err) {
      throw sqliteError(err);
    }
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.#connection.writes.flush();
    this.db.close();
  }
}
