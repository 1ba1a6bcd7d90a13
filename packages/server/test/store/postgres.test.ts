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
  async rowsMentioning(store: Store, needles: readonly string[]) {
    const pool = (store as PostgresStore).pool;
    const { rows: columns } = await pool.query<{ table_name: string; column_name: string }>(
      `SELECT c.table_name, c.column_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position`,
    );
    const byTable = new Map<string, string[]>();
    for (const c of columns) byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), c.column_name]);
    const counts: Record<string, number> = {};
    for (const [table, cols] of byTable) {
      const any = cols.flatMap((c) => needles.map((_, i) => `strpos("${c}"::text, $${i + 1}) > 0`)).join(' OR ');
      counts[table] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE ${any}`, [...needles])).rows[0]!.n;
    }
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
