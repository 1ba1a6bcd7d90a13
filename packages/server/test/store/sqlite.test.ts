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
