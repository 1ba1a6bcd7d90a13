/**
 * The revocation feed on PostgreSQL: an entry committed late is never skipped. A transaction
 * that revoked a session first (and so took the lower sequence number) but commits after a later
 * one must still reach a reader that already read past the later one: with a bigserial order
 * alone the reader's cursor would be past it by then.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../../src/store/postgres/index.js';
import { parseRevocationCursor } from '../../../src/store/revocation-cursor.js';
import type { RevocationCursor } from '../../../src/store/types.js';
import { newSession, newUser, T0 } from '../cases/context.js';
import { createTestDatabase, dropTestDatabase } from '../../support/postgres.js';

let url: string;
let store: PostgresStore;

beforeAll(async () => {
  url = await createTestDatabase('latchkey_feed');
  store = new PostgresStore(url, { poolSize: 4 });
  await store.migrate();
});

afterAll(async () => {
  await store?.close();
  if (url) await dropTestDatabase(url);
});

describe('revocation feed on PostgreSQL', () => {
  it('a revocation committed after a later one is still delivered to a reader that read in between', async () => {
    const u = (await store.createUser(newUser()))!;
    const early = await store.createSession(newSession(u.id));
    const late = await store.createSession(newSession(u.id));

    // The reader starts at the end of the feed, as a follower's stream does.
    let cursor: RevocationCursor | null = null;
    const read = async () => {
      const page = await store.listRevocations(cursor, 100, 0);
      const last = page.entries[page.entries.length - 1];
      if (last) cursor = parseRevocationCursor(last.cursor);
      return page.entries.map((e) => e.subject);
    };
    const seen: string[] = [];

    const held = await store.pool.connect();
    try {
      await held.query('BEGIN');
      // Revokes `early` (its trigger writes the entry, with the lower sequence number) and stays open.
      await held.query('UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3', [T0 + 1000, 'logout', early.id]);
      // A later transaction revokes `late` and commits first.
      expect(await store.revokeSession(u.id, late.id, 'logout', T0 + 2000)).toBe(true);
      seen.push(...(await read()));
      // Nothing of a running transaction, nor anything ordered after it, is served yet.
      expect(seen).toEqual([]);
      expect(await store.lastRevocationCursor()).toBeNull();
      await held.query('COMMIT');
    } finally {
      held.release();
    }
    // The xmin gate is cluster-wide: a transaction still open in another test's database holds
    // it back for a moment, so read until both arrived (bounded), as a follower's next poll would.
    for (let i = 0; i < 400 && seen.length < 2; i++) {
      seen.push(...(await read()));
      if (seen.length < 2) await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen).toEqual([early.id, late.id]);
  });
});
