/**
 * Cost caps and floors on stored password hashes (passwords/hash-costs.ts): the import refuses a
 * hash outside them per row, and a login never verifies one — it spends the ordinary dummy
 * verification instead, so such an account neither pins a hashing thread nor stands out.
 */
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { importUsersFromFile } from '../../src/features/user-transfer/importer.js';
import { formatSummary } from '../../src/features/user-transfer/summary.js';
import { assessHashCost, HASH_COST_LIMITS } from '../../src/passwords/hash-costs.js';
import type { HashJob, HashThreads } from '../../src/passwords/hash-threads.js';
import { createTestApp, tempDir, type TestApp } from '../support/helpers.js';
import { allUsers, openDb, writeLines } from '../support/import-fixtures.js';

const PASSWORD = 'correct horse battery staple';
const SALT = 'c29tZXNhbHRzb21lc2FsdA';

/** A well-formed bcrypt string of this cost (never verified by these cases). */
function bcryptOf(cost: number): string {
  return `$2b$${String(cost).padStart(2, '0')}$${'a'.repeat(53)}`;
}

/** A well-formed PHC argon2id string with these parameters (never verified by these cases). */
function argon2Of(m: number, t: number, p = 1): string {
  return `$argon2id$v=19$m=${m},t=${t},p=${p}$${SALT}$${'A'.repeat(43)}`;
}

describe('assessHashCost', () => {
  it.each([
    ['bcrypt cost 4 (bcrypt minimum)', 'weak', bcryptOf(4)],
    ['bcrypt cost 9', 'weak', bcryptOf(9)],
    ['bcrypt cost 10', 'ok', bcryptOf(10)],
    ['bcrypt cost 14 (the cap)', 'ok', bcryptOf(14)],
    ['bcrypt $2y$ cost 12', 'ok', '$2y$' + bcryptOf(12).slice(4)],
    ['argon2 m=512,t=2,p=2 (passlib 1.7 default)', 'weak', argon2Of(512, 2, 2)],
    ['argon2 m=19456,t=1', 'weak', argon2Of(19_456, 1)],
    ['argon2 m=19456,t=2 (DESIGN minimum)', 'ok', argon2Of(19_456, 2)],
    ['argon2 m=65536,t=1', 'ok', argon2Of(65_536, 1)],
    ['argon2 m=1 GiB,t=10 (both caps)', 'ok', argon2Of(1_048_576, 10)],
  ])('%s is %s', (_name, status, stored) => {
    expect(assessHashCost(stored).status).toBe(status);
  });

  it.each([
    ['bcrypt cost 15', bcryptOf(15), /^bcrypt cost 15 is above the cap of 14$/],
    ['bcrypt cost 31', bcryptOf(31), /^bcrypt cost 31 is above the cap of 14$/],
    ['bcrypt cost 3', bcryptOf(3), /^bcrypt cost 3 is below the minimum of 4$/],
    ['argon2 m=1 GiB + 1 KiB', argon2Of(1_048_577, 2), /^argon2 memory m=1048577 KiB is above the cap of 1048576 KiB/],
    ['argon2 m=4 GiB', argon2Of(4_194_304, 1), /above the cap of 1048576 KiB/],
    ['argon2 t=11', argon2Of(19_456, 11), /^argon2 time cost t=11 is above the cap of 10$/],
    ['argon2 t=4294967295', argon2Of(19_456, 4_294_967_295), /time cost t=4294967295 is above the cap/],
    ['argon2 m=511', argon2Of(511, 3), /^argon2 memory m=511 KiB is below the minimum of 512 KiB$/],
    ['argon2 t=0', argon2Of(19_456, 0), /^argon2 time cost t=0 is below the minimum of 1$/],
  ])('%s is refused for its cost', (_name, stored, reason) => {
    const cost = assessHashCost(stored);
    expect(cost).toMatchObject({ status: 'refused', kind: 'cost' });
    if (cost.status === 'refused') expect(cost.reason).toMatch(reason);
  });

  it.each([
    ['plaintext', PASSWORD],
    ['a short bcrypt', '$2b$10$tooshort'],
    ['argon2 without a hash', '$argon2id$v=19$m=19456,t=2,p=1$garbage'],
    ['argon2 with m < 8p', argon2Of(1024, 2, 255)],
  ])('%s is refused as malformed', (_name, stored) => {
    expect(assessHashCost(stored)).toMatchObject({ status: 'refused', kind: 'malformed' });
  });

  it('bounds ARGON2_* with the same caps, so that Latchkey never writes a hash it would refuse', () => {
    const error = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return err as ConfigError;
      }
      return null;
    };
    expect(error({ ARGON2_TIME_COST: String(HASH_COST_LIMITS.argon2.maxTimeCost) })).toBeNull();
    expect(error({ ARGON2_TIME_COST: String(HASH_COST_LIMITS.argon2.maxTimeCost + 1) })).toMatchObject({ variable: 'ARGON2_TIME_COST' });
    expect(error({ ARGON2_MEMORY_KIB: String(HASH_COST_LIMITS.argon2.maxMemoryKib + 1) })).toMatchObject({ variable: 'ARGON2_MEMORY_KIB' });
  });
});

describe('users import', () => {
  const dir = tempDir('latchkey-hash-costs-');
  afterAll(() => dir.cleanup());

  it('refuses each hash outside the limits with a per-row reason, imports the rest and counts the weak ones', async () => {
    const weak = await bcryptHash(PASSWORD, 4);
    const file = writeLines(dir.dir, 'users.jsonl', [
      { email: 'ok@example.com', password: bcryptOf(12) },
      { email: 'bcrypt15@example.com', password: bcryptOf(15) },
      { email: 'bcrypt31@example.com', password: bcryptOf(31) },
      { email: 'bcrypt3@example.com', password: bcryptOf(3) },
      { email: 'memory@example.com', password: argon2Of(2_097_152, 2) },
      { email: 'passes@example.com', password: argon2Of(19_456, 11) },
      { email: 'tiny@example.com', password: argon2Of(256, 2) },
      { email: 'weak@example.com', password: weak },
    ]);
    const store = openDb(join(dir.dir, 'latchkey.db'));
    try {
      const summary = await importUsersFromFile(store, { file, format: 'mongo' });
      expect(summary).toMatchObject({ rows: 8, imported: 2, failed: 6, weakHashes: 1 });
      expect(summary.failures).toEqual([
        { line: 2, reason: 'bcrypt cost 15 is above the cap of 14; refused, the user needs a password reset' },
        { line: 3, reason: 'bcrypt cost 31 is above the cap of 14; refused, the user needs a password reset' },
        { line: 4, reason: 'bcrypt cost 3 is below the minimum of 4; refused, the user needs a password reset' },
        { line: 5, reason: 'argon2 memory m=2097152 KiB is above the cap of 1048576 KiB (1 GiB); refused, the user needs a password reset' },
        { line: 6, reason: 'argon2 time cost t=11 is above the cap of 10; refused, the user needs a password reset' },
        { line: 7, reason: 'argon2 memory m=256 KiB is below the minimum of 512 KiB; refused, the user needs a password reset' },
      ]);
      expect((await allUsers(store)).map((u) => u.email).sort()).toEqual(['ok@example.com', 'weak@example.com']);
      const text = formatSummary(summary, file);
      expect(text).toContain('line 2: bcrypt cost 15 is above the cap of 14');
      expect(text).toMatch(/note: 1 written with a weak hash .* re-hashed with argon2id at their next login/);
    } finally {
      await store.close();
    }
  });
});

describe('login against a stored hash outside the limits', () => {
  let t: TestApp;
  let jobs: HashJob[];
  const seeded = new Map<string, string>();

  async function seed(email: string, passwordHash: string): Promise<void> {
    await t.app.latchkey.store.createUser({ id: crypto.randomUUID(), email, name: null, passwordHash, roles: [], emailVerified: true, createdAt: Date.now() });
    seeded.set(email, passwordHash);
  }

  /** The verifications the hashing threads ran for one login (the background re-hash is not one). */
  async function login(email: string, password = PASSWORD): Promise<{ status: number; code: unknown; verified: string[] }> {
    jobs.length = 0;
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    const verified = jobs.flatMap((j) => (j.op === 'argon2-hash' ? [] : [j.stored]));
    return { status: res.statusCode, code: res.json().code, verified };
  }

  beforeAll(async () => {
    t = await createTestApp();
    jobs = [];
    const threads = (t.app.latchkey.hasher as unknown as { threads: HashThreads }).threads;
    const run = threads.run.bind(threads);
    // Records every job and runs it on the real threads.
    vi.spyOn(threads, 'run').mockImplementation((job: HashJob) => {
      jobs.push(job);
      return run(job);
    });
    // Real hashes of PASSWORD: were one of them verified, the right password would log in.
    // bcrypt cost 15 costs about 2 s here; 31 would take days.
    const [bcrypt15, argon2t11, argon2m256, bcrypt4] = await Promise.all([
      bcryptHash(PASSWORD, 15),
      argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 1024, timeCost: 11, parallelism: 1 }),
      argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 256, timeCost: 2, parallelism: 1 }),
      bcryptHash(PASSWORD, 4),
    ]);
    await seed('bcrypt15@example.com', bcrypt15);
    await seed('argon2t11@example.com', argon2t11);
    await seed('argon2m256@example.com', argon2m256);
    await seed('bcrypt31@example.com', bcryptOf(31));
    await seed('garbage@example.com', 'not a hash at all');
    await seed('weak@example.com', bcrypt4);
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await t.close();
  });

  it('an unknown email costs one dummy verification (the reference)', async () => {
    const unknown = await login('nobody@example.com');
    expect(unknown).toMatchObject({ status: 400, code: 'INVALID_CREDENTIALS' });
    expect(unknown.verified).toHaveLength(1);
  });

  it.each(['bcrypt15@example.com', 'argon2t11@example.com', 'argon2m256@example.com', 'bcrypt31@example.com', 'garbage@example.com'])(
    '%s: even the right password fails like a wrong one, after exactly the dummy verification',
    async (email) => {
      const dummy = (await login('nobody@example.com')).verified;
      const right = await login(email);
      const wrong = await login(email, 'a wrong password');
      expect(right).toEqual({ status: 400, code: 'INVALID_CREDENTIALS', verified: dummy });
      expect(wrong).toEqual({ status: 400, code: 'INVALID_CREDENTIALS', verified: dummy });
      expect(right.verified).not.toContain(seeded.get(email));
      // The operator learns which user needs a reset, and why; never the hash.
      const warning = t.logs.filter((l) => l.includes('outside the accepted costs')).at(-1) ?? '';
      expect(warning).toContain((await t.app.latchkey.store.findUserByEmail(email))!.id);
      expect(warning).not.toContain(seeded.get(email)!.slice(-20));
    },
  );

  it('a weak hash verifies, is padded with the dummy verification, and is re-hashed', async () => {
    const dummy = (await login('nobody@example.com')).verified;
    const right = await login('weak@example.com');
    expect(right.status).toBe(200);
    expect(right.verified).toEqual([seeded.get('weak@example.com'), ...dummy]);
    const wrong = await login('weak@example.com', 'a wrong password');
    expect(wrong).toMatchObject({ status: 400, code: 'INVALID_CREDENTIALS' });
    // The re-hash runs after the response: wait for it (bounded), without asserting any time.
    let stored = '';
    for (let i = 0; i < 400 && !stored.startsWith('$argon2id$'); i++) {
      stored = (await t.app.latchkey.store.findUserByEmail('weak@example.com'))!.passwordHash;
      if (!stored.startsWith('$argon2id$')) await new Promise((r) => setTimeout(r, 25));
    }
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});
