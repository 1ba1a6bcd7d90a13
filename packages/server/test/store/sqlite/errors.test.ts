/**
 * The SQLite adapter's side of the outage rule on a file that another connection holds locked
 * (a long write elsewhere, a backup tool): once the busy timeout is spent, the write rejects
 * with DatabaseUnavailableError (503 at the HTTP layer), on both of the adapter's write paths:
 * a statement of its own and the group commit. The closed connection is the conformance case.
 */
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../../src/store/errors.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { tempDir } from '../../support/helpers.js';

const { dir, cleanup } = tempDir('latchkey-sqlite-errors-');
afterAll(cleanup);

const T0 = Date.UTC(2026, 0, 1);

async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => null,
    (err: unknown) => err,
  );
}

describe('SQLite outages', () => {
  it('a file locked past the busy timeout: writes reject with DatabaseUnavailableError (SQLITE_BUSY), reads still answer', async () => {
    const path = `${dir}/locked.db`;
    const store = new SqliteStore(path);
    await store.migrate();
    // The adapter waits 5 s for the lock (busy_timeout); this test need not.
    store.db.pragma('busy_timeout = 0');
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const alone = await rejection(() => store.hitRateCounter('k', T0, 60_000));
      expect(alone).toBeInstanceOf(DatabaseUnavailableError);
      expect(alone).toMatchObject({ code: 'SQLITE_BUSY' });
      const batched = await rejection(() =>
        store.recordEvent({ id: 'e1', userId: null, type: 'login_failed', ip: null, userAgent: null, detail: null, createdAt: T0 }),
      );
      expect(batched).toBeInstanceOf(DatabaseUnavailableError);
      expect(batched).toMatchObject({ code: 'SQLITE_BUSY' });
      // WAL: readers are not blocked by a writer.
      await expect(store.findUserById('nobody')).resolves.toBeNull();
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    await expect(store.hitRateCounter('k', T0, 60_000)).resolves.toEqual({ count: 1, resetAt: T0 + 60_000 });
    await store.close();
  });
});
