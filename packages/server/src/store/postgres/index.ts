import type { Pool } from 'pg';
import { postgresAudit } from './audit.js';
import type { RateCounterStore, Store, StoreConcerns } from '../types.js';
import { PgConnection, type PostgresStoreOptions } from './connection.js';
import { postgresEmailSignIn } from './email-sign-in.js';
import { postgresFactors } from './factors.js';
import { postgresPasskeys } from './passkeys.js';
import { postgresIdentities } from './identities.js';
import { postgresMigrations } from './migrations.js';
import { postgresOAuthClients } from './oauth-clients.js';
import { postgresOAuthPayloads } from './oauth-payloads.js';
import { postgresOneTimeTokens } from './one-time-tokens.js';
import { postgresRateCounters } from './rate-counters.js';
import { postgresRevocations } from './revocations.js';
import { postgresSecurityEvents } from './security-events.js';
import { postgresSessions } from './sessions.js';
import { postgresSigningKeys } from './signing-keys.js';
import { postgresUsers } from './users.js';
import { postgresWebhooks } from './webhooks.js';

export type { PostgresStoreOptions } from './connection.js';

/** Every concern, with the contract's optional batch of rate counts, which this adapter has. */
type PostgresConcerns = StoreConcerns & Required<Pick<RateCounterStore, 'addRateCounts'>>;

// The concern methods, set on each instance by the constructor (declaration merging: the class
// gets their types, the `concerns` object there proves that every one is present).
export interface PostgresStore extends PostgresConcerns {}

/**
 * The multi-node adapter: PostgreSQL 15+ through a `pg` pool. Several Latchkey processes share
 * one database; every guarantee of the Store contract holds across processes:
 * - createUser relies on the unique index (`ON CONFLICT DO NOTHING`), so one insert wins;
 * - rotateRefreshToken locks the session row (`SELECT ... FOR UPDATE`), so rotations of one
 *   family run one at a time and exactly one of them spends the live token;
 * - single-use tokens and counters are one conditional `UPDATE`/upsert each;
 * - migrations and signing-key rotation take an advisory lock, so instances starting at once or
 *   two `keys rotate` at once do not collide.
 * Transactions run at READ COMMITTED: each statement after a lock sees the winner's commit.
 *
 * One file per concern (users.ts, sessions.ts, ...), each a function of the shared pool
 * (connection.ts) returning that concern's methods; this class composes them into one Store.
 *
 * @example
 * const store = new PostgresStore('postgres://latchkey@db/latchkey', { poolSize: 10 });
 * await store.migrate();
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: Pool;
  readonly #db: PgConnection;
  #closed = false;

  constructor(url: string, options: PostgresStoreOptions) {
    const db = new PgConnection(url, options);
    this.#db = db;
    this.pool = db.pool;
    const concerns: PostgresConcerns = {
      ...postgresMigrations(db),
      ...postgresUsers(db),
      ...postgresSessions(db),
      ...postgresSigningKeys(db),
      ...postgresSecurityEvents(db),
      ...postgresOneTimeTokens(db),
      ...postgresFactors(db),
      ...postgresEmailSignIn(db),
      ...postgresPasskeys(db),
      ...postgresIdentities(db),
      ...postgresRateCounters(db),
      ...postgresAudit(db),
      ...postgresWebhooks(db),
      ...postgresRevocations(db),
      ...postgresOAuthClients(db),
      ...postgresOAuthPayloads(db),
    };
    Object.assign(this, concerns);
  }

  async serverTime(): Promise<number> {
    const [row] = await this.#db.query<{ ms: string }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms');
    return Number(row!.ms);
  }

  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async ping(): Promise<void> {
    await this.#db.execute('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}
