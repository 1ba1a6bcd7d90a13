import { afterAll } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/helpers.js';
import { describeStoreConformance } from './conformance.js';

const { dir, cleanup } = tempDir('latchkey-store-sqlite-');
afterAll(cleanup);
let n = 0;

const TABLES = ['users', 'sessions', 'refresh_tokens', 'one_time_tokens', 'security_events', 'factors', 'recovery_codes', 'passkeys', 'passkey_challenges', 'identities', 'oauth_states', 'oauth_exchange_codes', 'audit_log'];

describeStoreConformance('sqlite', async () => new SqliteStore(`${dir}/store-${++n}.db`), {
  async countRows(store: Store) {
    const db = (store as SqliteStore).db;
    const counts: Record<string, number> = {};
    for (const t of TABLES) counts[t] = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${t}`).get()!.n;
    return counts;
  },
  async rowsMentioning(store: Store, needles: readonly string[]) {
    const db = (store as SqliteStore).db;
    const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
    const counts: Record<string, number> = {};
    for (const { name } of tables) {
      const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${name}')`).all();
      const any = columns.flatMap((c) => needles.map((_, i) => `instr(CAST("${c.name}" AS TEXT), @n${i}) > 0`)).join(' OR ');
      const params = Object.fromEntries(needles.map((n, i) => [`n${i}`, n]));
      counts[name] = db.prepare<Record<string, string>, { n: number }>(`SELECT count(*) AS n FROM "${name}" WHERE ${any}`).get(params)!.n;
    }
    return counts;
  },
  async tamperAudit(store: Store) {
    (store as SqliteStore).db.prepare("UPDATE audit_log SET action = 'tampered'").run();
  },
  // A store whose connection is closed (during shutdown, or lost).
  async unreachableStore() {
    const store = new SqliteStore(`${dir}/store-${++n}.db`);
    await store.migrate();
    await store.close();
    return store;
  },
});
