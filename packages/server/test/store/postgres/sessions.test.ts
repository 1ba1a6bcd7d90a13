import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '../../../src/store/postgres/index.js';
import { createTestDatabase } from '../../support/postgres.js';

describe('PostgreSQL round trips', () => {
  it('a live refresh token rotates in one statement, a spent one through the locking transaction; concurrent session lookups share statements', async () => {
    const store = new PostgresStore(await createTestDatabase('latchkey_rt'), { poolSize: 2 });
    const statements: string[] = [];
    const original = pg.Client.prototype.query;
    try {
      await store.migrate();
      const now = Date.UTC(2026, 0, 1);
      const user = await store.createUser({
        id: 'u1', email: 'rt@example.com', name: null, passwordHash: 'x', roles: [], emailVerified: false, createdAt: now,
      });
      await store.createSession({
        id: 's1', userId: user!.id, createdAt: now, expiresAt: now + 86_400_000, idleExpiresAt: now + 3_600_000,
        userAgent: null, ip: null, refreshTokenHash: 'old', authTime: now, amr: ['pwd'],
      });
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const first = args[0] as string | { text: string };
        statements.push((typeof first === 'string' ? first : first.text).trim().split(/\s+/)[0]!.toUpperCase());
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      const rotate = (oldTokenHash: string, newTokenHash: string, at: number) =>
        store.rotateRefreshToken({ oldTokenHash, newTokenHash, now: at, graceMs: 10_000, idleTimeoutMs: 3_600_000 });
      expect((await rotate('old', 'new1', now + 1)).kind).toBe('rotated');
      expect(statements).toEqual(['WITH']);
      statements.length = 0;
      // Spent inside the grace window: the one statement finds nothing, the transaction decides.
      expect((await rotate('old', 'new2', now + 2)).kind).toBe('grace');
      expect(statements[0]).toBe('WITH');
      expect(statements.slice(1, 2)).toEqual(['BEGIN']);
      expect(statements.at(-1)).toBe('COMMIT');
      // Session lookups made together: the first goes at once, the rest wait for it and go in one.
      statements.length = 0;
      const found = await Promise.all(Array.from({ length: 30 }, (_, i) => store.getSessionWithUser(i % 3 === 2 ? 'nope' : 's1')));
      expect(statements).toEqual(['SELECT', 'SELECT']);
      expect(found.filter((f) => f?.session.id === 's1' && f.user.id === 'u1')).toHaveLength(20);
      expect(found.filter((f) => f === null)).toHaveLength(10);
    } finally {
      pg.Client.prototype.query = original;
      await store.close();
    }
  });
});
