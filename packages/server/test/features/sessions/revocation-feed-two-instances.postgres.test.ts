/**
 * The revocation feed across instances: an entry written through one instance reaches the
 * stream of another sharing the database (PostgreSQL; and two instances on one SQLite file, as
 * the workers of `serve --workers` are). The test waits for it with a deadline; it never
 * asserts a duration.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, tempDir, type TestApp } from '../../support/helpers.js';
import { claimsOf } from '../../support/sessions.js';
import { createTestDatabase, dropTestDatabase } from '../../support/postgres.js';
import { openSse } from '../../support/sse.js';

const FEED_TOKEN = 'feed-token-of-at-least-thirty-two-characters';
const feed = { authorization: `Bearer ${FEED_TOKEN}` };

async function pair(databaseUrl: string): Promise<[TestApp, TestApp]> {
  const env = { DATABASE_URL: databaseUrl, REVOCATION_FEED_TOKEN: FEED_TOKEN };
  return [await createTestApp(env), await createTestApp(env)];
}

describe.each([
  ['PostgreSQL', async () => createTestDatabase('latchkey_feed2')],
  ['one SQLite file', async () => `sqlite:${join(tempDir('latchkey-feed2-').dir, 'latchkey.db')}`],
])('revocation feed, two instances on %s', (_name, database) => {
  let url: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    url = await database();
    [a, b] = await pair(url);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (url?.startsWith('postgres')) await dropTestDatabase(url);
  });

  it('a logout through A reaches the stream of B; a stream resumed on A after B\'s last cursor gets the next one', async () => {
    const base = await b.app.listen({ port: 0, host: '127.0.0.1' });
    const s = await openSse(`${base}/auth/revocations/stream`, feed);
    try {
      expect(s.status).toBe(200);
      const sids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const u = await registerAndLogin(a.app);
        expect((await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.access) })).statusCode).toBe(204);
        sids.push(claimsOf(u.access).sid);
        await s.waitFor(`entry ${i} on B`, (m) => m.some((x) => JSON.parse(x.data).sid === sids[i]), 20_000);
      }
      // Each once, in the order written.
      expect(s.messages.map((m) => JSON.parse(m.data).sid)).toEqual(sids);

      // A follower moving from B to A resumes where it was.
      const last = s.messages[s.messages.length - 1]!.id!;
      const baseA = await a.app.listen({ port: 0, host: '127.0.0.1' });
      const u = await registerAndLogin(b.app);
      await b.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(u.access) });
      const r = await openSse(`${baseA}/auth/revocations/stream`, { ...feed, 'last-event-id': last });
      try {
        const got = await r.waitFor('the session and user entries on A', (m) => (m.length >= 2 ? m : null), 20_000);
        expect(got.map((m) => JSON.parse(m.data))).toEqual([
          expect.objectContaining({ type: 'session', sid: claimsOf(u.access).sid }),
          expect.objectContaining({ type: 'user', sub: u.userId }),
        ]);
      } finally {
        r.close();
      }
    } finally {
      s.close();
    }
  });
});
