import { PostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase } from '../support/postgres.js';
import { freePort } from '../support/server-process.js';
import { describeStoreConformance } from './conformance.js';

const TABLES = ['users', 'sessions', 'refresh_tokens', 'one_time_tokens', 'security_events', 'factors', 'recovery_codes', 'passkeys', 'passkey_challenges', 'identities', 'oauth_states', 'oauth_exchange_codes', 'audit_log'];

// Each case gets its own database on the run's throwaway cluster; a pool of 10 makes the
// concurrent cases run on several connections at once.
describeStoreConformance('postgres', async () => new PostgresStore(await createTestDatabase('latchkey_store'), { poolSize: 10 }), {
  async countRows(store: Store) {
    const pool = (store as PostgresStore).pool;
    const counts: Record<string, number> = {};
    for (const t of TABLES) counts[t] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n;
    return counts;
  },
  async tamperAudit(store: Store) {
    await (store as PostgresStore).pool.query("UPDATE audit_log SET action = 'tampered'");
  },
  // A server address nobody listens on: every connection attempt is refused at once.
  async unreachableStore() {
    return new PostgresStore(`postgres://latchkey@127.0.0.1:${await freePort()}/latchkey`, { poolSize: 2, connectionTimeoutMs: 1000 });
  },
});
