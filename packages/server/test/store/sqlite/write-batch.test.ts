import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { SqliteWriteBatch } from '../../../src/store/sqlite/write-batch.js';
import { tempDir } from '../../support/helpers.js';

const { dir, cleanup } = tempDir('latchkey-write-batch-');
afterAll(cleanup);
let n = 0;

/** A WAL database file with one table, the batch on one connection and a second connection to watch from outside. */
function setup() {
  const path = `${dir}/batch-${++n}.db`;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const other = new Database(path);
  other.pragma('busy_timeout = 50');
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
  const seenFromOutside = (k: string) => other.prepare('SELECT v FROM t WHERE k = ?').get(k) !== undefined;
  const rows = () => db.prepare<[], { k: string }>('SELECT k FROM t ORDER BY k').all().map((r) => r.k);
  const close = () => {
    other.close();
    if (db.open) db.close();
  };
  return { path, db, other, insert, seenFromOutside, rows, close, batch: new SqliteWriteBatch(db) };
}

describe('SqliteWriteBatch (group commit of one event-loop turn)', () => {
  it('runs the units queued in one turn in one transaction, in order, and settles after its COMMIT', async () => {
    const { db, insert, seenFromOutside, batch, close } = setup();
    const during: Array<{ inTransaction: boolean; firstVisibleInside: boolean; firstVisibleOutside: boolean }> = [];
    const first = batch.run(() => insert.run('a', 1).changes);
    const second = batch.run(() => {
      during.push({
        inTransaction: db.inTransaction,
        // The first unit's row: written by this connection, not yet committed.
        firstVisibleInside: db.prepare('SELECT 1 FROM t WHERE k = ?').get('a') !== undefined,
        firstVisibleOutside: seenFromOutside('a'),
      });
      return insert.run('b', 2).changes;
    });
    // Nothing has run yet: the batch waits for the end of the turn.
    expect(seenFromOutside('a')).toBe(false);
    expect(during).toEqual([]);
    await expect(Promise.all([first, second])).resolves.toEqual([1, 1]);
    expect(during).toEqual([{ inTransaction: true, firstVisibleInside: true, firstVisibleOutside: false }]);
    // Settled means committed: another connection sees both rows.
    expect(seenFromOutside('a')).toBe(true);
    expect(seenFromOutside('b')).toBe(true);
    close();
  });

  it('a promise resolves only once its write is visible to another connection', async () => {
    const { insert, seenFromOutside, batch, close } = setup();
    const visibleAtResolve = await Promise.all(
      ['x', 'y', 'z'].map((k, i) => batch.run(() => insert.run(k, i)).then(() => seenFromOutside(k))),
    );
    expect(visibleAtResolve).toEqual([true, true, true]);
    close();
  });

  it('when one unit throws, only that unit fails and its own writes are rolled back', async () => {
    const { insert, rows, batch, close } = setup();
    const calls = { ok1: 0, bad: 0, ok2: 0 };
    const results = await Promise.allSettled([
      batch.run(() => (calls.ok1++, insert.run('ok1', 1))),
      batch.run(() => {
        calls.bad++;
        insert.run('half-done', 1);
        insert.run('ok1', 2); // primary key taken: SQLITE_CONSTRAINT
      }),
      batch.run(() => (calls.ok2++, insert.run('ok2', 3))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed/);
    expect(rows()).toEqual(['ok1', 'ok2']);
    // The batch ran once up to the failure, then each unit once more on its own.
    expect(calls).toEqual({ ok1: 2, bad: 2, ok2: 1 });
    close();
  });

  it('a transaction that cannot begin fails every unit of the batch, without retrying them one by one', async () => {
    const { path, insert, rows, close } = setup();
    const db2 = new Database(path);
    db2.pragma('busy_timeout = 20');
    const batch = new SqliteWriteBatch(db2);
    const ins2 = db2.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    let calls = 0;
    const results = await Promise.allSettled([
      batch.run(() => (calls++, ins2.run('p', 1))),
      batch.run(() => (calls++, ins2.run('q', 2))),
    ]);
    blocker.exec('ROLLBACK');
    blocker.close();
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/database is locked/);
    expect(calls).toBe(0);
    // The lock is gone: the next turn's batch commits.
    await batch.run(() => ins2.run('r', 3));
    insert.run('s', 4);
    expect(rows()).toEqual(['r', 's']);
    db2.close();
    close();
  });

  it('the store commits what is queued before it closes', async () => {
    const path = `${dir}/store-close-${++n}.db`;
    const store = new SqliteStore(path);
    await store.migrate();
    const now = Date.now();
    const user = await store.createUser({
      id: 'u1', email: 'close@example.com', name: null, passwordHash: 'x', roles: ['user'], emailVerified: false, disabled: false, createdAt: now,
    });
    expect(user).not.toBeNull();
    // Queued in this turn, and the store closes in this same turn.
    const created = store.createSession({
      id: 's1', userId: 'u1', createdAt: now, expiresAt: now + 60_000, idleExpiresAt: now + 60_000, userAgent: null, ip: null, refreshTokenHash: 'h1', authTime: now, amr: ['pwd'],
    });
    await store.close();
    await expect(created).resolves.toMatchObject({ id: 's1' });
    const reopened = new Database(path, { readonly: true });
    expect(reopened.prepare('SELECT id FROM sessions').all()).toEqual([{ id: 's1' }]);
    expect(reopened.prepare('SELECT token_hash FROM refresh_tokens').all()).toEqual([{ token_hash: 'h1' }]);
    reopened.close();
  });
});
