import { hash as argon2Hash, hashSync as argon2HashSync } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueFullError } from '../../src/lib/work-queue.js';
import { hashFamily, PasswordHasher } from '../../src/passwords/hasher.js';
import { checkPasswordPolicy, commonPasswords, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../src/passwords/policy.js';
import { createTestApp, type TestApp } from '../support/helpers.js';

const DEFAULTS = { memoryKib: 19_456, timeCost: 2, parallelism: 1 };
/** @node-rs/argon2 const enums (isolated modules cannot import them). */
const ALG = { argon2d: 0, argon2i: 1, argon2id: 2 } as const;
const V0x10 = 0;

interface Phc {
  variant: string;
  version: number;
  m: number;
  t: number;
  p: number;
  saltBytes: number;
  hashBytes: number;
}

/** Parses a PHC argon2 string by hand, independently of the library that made it. */
function parsePhc(phc: string): Phc {
  const m = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!m) throw new Error(`not a PHC argon2 string: ${phc}`);
  return {
    variant: m[1]!,
    version: Number(m[2]),
    m: Number(m[3]),
    t: Number(m[4]),
    p: Number(m[5]),
    saltBytes: Buffer.from(m[6]!, 'base64').length,
    hashBytes: Buffer.from(m[7]!, 'base64').length,
  };
}

/** Counts event-loop turns (setImmediate ticks) while `work` runs. */
async function ticksDuring(work: () => unknown): Promise<number> {
  let ticks = 0;
  let running = true;
  const spin = () => {
    ticks++;
    if (running) setImmediate(spin);
  };
  setImmediate(spin);
  await work();
  running = false;
  return ticks;
}

/** Waits (bounded) until `read` yields a value accepted by `done`; no timing is asserted. */
async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition never reached');
}

describe('argon2id hashing', () => {
  const hasher = new PasswordHasher(DEFAULTS, 2, 16);

  it('produces argon2id v=19 with at least m=19456 KiB, t=2, p=1 (read from the PHC string)', async () => {
    const phc = parsePhc(await hasher.hash('correct horse battery staple'));
    expect(phc.variant).toBe('argon2id');
    expect(phc.version).toBe(19);
    expect(phc.m).toBeGreaterThanOrEqual(19_456);
    expect(phc.t).toBeGreaterThanOrEqual(2);
    expect(phc.p).toBe(1);
    expect(phc.saltBytes).toBeGreaterThanOrEqual(16);
    expect(phc.hashBytes).toBeGreaterThanOrEqual(32);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password here'), hasher.hash('same password here')]);
    expect(a).not.toBe(b);
  });

  it('honours configured parameters', async () => {
    const strong = new PasswordHasher({ memoryKib: 32_768, timeCost: 3, parallelism: 2 }, 1, 4);
    const phc = parsePhc(await strong.hash('correct horse battery staple'));
    expect([phc.m, phc.t, phc.p]).toEqual([32_768, 3, 2]);
  });

  it('verifies its own hashes and refuses wrong passwords; no rehash needed', async () => {
    const stored = await hasher.hash('correct horse battery staple');
    expect(await hasher.verify(stored, 'correct horse battery staple')).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify(stored, 'correct horse battery stapler')).toEqual({ ok: false, needsRehash: false });
  });

  it('asks for a rehash when a parameter merely begins like the configured one (m=194560, p=10)', async () => {
    const stored = await hasher.hash('correct horse battery staple');
    const { m, t, p } = parsePhc(stored);
    expect(hasher.needsRehash(stored)).toBe(false);
    expect(hasher.needsRehash(stored.replace(`,p=${p}$`, `,p=${p}0$`))).toBe(true);
    expect(hasher.needsRehash(stored.replace(`$m=${m},`, `$m=${m}0,`))).toBe(true);
    expect(hasher.needsRehash(stored.replace(`,t=${t},`, `,t=${t + 1},`))).toBe(true);
    expect(hasher.needsRehash(stored.replace('$v=19$', '$v=16$'))).toBe(true);
  });

  it('keeps the event loop turning while it hashes (off-loop, on the thread pool)', async () => {
    // Heavier than the default, so that even on a starved CPU the hash outlasts many loop turns.
    const heavy = { memoryKib: 65_536, timeCost: 3, parallelism: 1 };
    const heavyHasher = new PasswordHasher(heavy, 1, 4);
    const stored = await heavyHasher.hash('correct horse battery staple');
    const during = await ticksDuring(() => heavyHasher.hash('correct horse battery staple'));
    const duringVerify = await ticksDuring(() => heavyHasher.verify(stored, 'correct horse battery staple'));
    // Control: the same work done synchronously lets the loop turn not even once, so the
    // measurement can tell the two apart.
    const blocking = await ticksDuring(() =>
      argon2HashSync('correct horse battery staple', { algorithm: ALG.argon2id, memoryCost: heavy.memoryKib, timeCost: heavy.timeCost, parallelism: 1 }),
    );
    expect(blocking).toBe(0);
    expect(during).toBeGreaterThanOrEqual(5);
    expect(duringVerify).toBeGreaterThanOrEqual(5);
  });

  it('bounds concurrency and the waiting line, shedding load with QueueFullError', async () => {
    const small = new PasswordHasher(DEFAULTS, 1, 1);
    let maxActive = 0;
    const watch = setInterval(() => (maxActive = Math.max(maxActive, small.queue.active)), 0);
    const first = small.hash('first password');
    const second = small.hash('second password');
    const third = small.hash('third password');
    await expect(third).rejects.toBeInstanceOf(QueueFullError);
    await expect(Promise.all([first, second])).resolves.toHaveLength(2);
    clearInterval(watch);
    expect(maxActive).toBeLessThanOrEqual(1);
    expect(small.queue.active).toBe(0);
  });
});

describe('legacy hashes', () => {
  const hasher = new PasswordHasher(DEFAULTS, 2, 16);

  // Published vectors, made by other implementations.
  const vectors: Array<[string, string, string]> = [
    ['bcrypt $2a$ (crypt_blowfish test vector)', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'U*U'],
    ['bcrypt $2y$ (PHP password_hash manual example)', '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a', 'rasmuslerdorf'],
    ['argon2i (passlib documentation example)', '$argon2i$v=19$m=512,t=2,p=2$aI2R0hpDyLm3ltLa+1/rvQ$LqPKjd6n8yniKtAithoR7A', 'password'],
    ['argon2i (reference implementation vector)', '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG', 'password'],
  ];

  it.each(vectors)('%s verifies, refuses a wrong password, and asks for a rehash', async (_name, stored, password) => {
    expect(hashFamily(stored)).not.toBe('unknown');
    expect(await hasher.verify(stored, password)).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(stored, password + 'x')).toEqual({ ok: false, needsRehash: false });
  });

  it.each(['2a', '2b', '2y'])('bcrypt $%s$ made with @node-rs/bcrypt verifies and asks for a rehash', async (version) => {
    // @node-rs/bcrypt writes $2b$; $2a$ and $2y$ compute the same function for these inputs
    // (the prefixes differ only in how old implementations treated 8-bit characters).
    const made = await bcryptHash('legacy bcrypt password', 10);
    expect(made.startsWith('$2b$10$')).toBe(true);
    const stored = made.replace(/^\$2b\$/, `$${version}$`);
    expect(hashFamily(stored)).toBe('bcrypt');
    expect(await hasher.verify(stored, 'legacy bcrypt password')).toEqual({ ok: true, needsRehash: true });
    expect((await hasher.verify(stored, 'legacy bcrypt passwore')).ok).toBe(false);
  });

  const foreignArgon2: Array<[string, Parameters<typeof argon2Hash>[1]]> = [
    ['argon2id m=65536,t=3,p=4 (argon2-cffi / pwdlib / passlib defaults)', { algorithm: ALG.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 4 }],
    ['argon2id m=65536,t=3,p=1 (stronger than ours, still another profile)', { algorithm: ALG.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 }],
    ['argon2id v=16 (old version)', { algorithm: ALG.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1, version: V0x10 }],
    ['argon2d', { algorithm: ALG.argon2d, memoryCost: 19_456, timeCost: 2, parallelism: 1 }],
    ['argon2i m=4096,t=3,p=1', { algorithm: ALG.argon2i, memoryCost: 4096, timeCost: 3, parallelism: 1 }],
  ];

  it.each(foreignArgon2)('PHC %s verifies and asks for a rehash', async (_name, options) => {
    const stored = await argon2Hash('foreign argon2 password', options);
    expect(await hasher.verify(stored, 'foreign argon2 password')).toEqual({ ok: true, needsRehash: true });
    expect((await hasher.verify(stored, 'foreign argon2 passwore')).ok).toBe(false);
  });

  it.each([
    'plaintext-password',
    '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/',
    '$2b$10$tooshort',
    '$argon2id$v=19$m=19456,t=2,p=1$garbage',
    '$argon2id$',
    '',
  ])('an unusable stored hash %j never verifies and never throws', async (stored) => {
    // Not even attempted (hash-costs.test.ts shows the dummy verification runs instead); the reason says why.
    expect(await hasher.verify(stored, 'plaintext-password')).toEqual({ ok: false, needsRehash: false, unusable: 'not a well-formed bcrypt or argon2 hash' });
  });
});

describe('rehash at the next successful login (through the store)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  async function seedUser(email: string, passwordHash: string): Promise<void> {
    const created = await t.app.latchkey.store.createUser({
      id: crypto.randomUUID(),
      email,
      name: null,
      passwordHash,
      roles: [],
      emailVerified: false,
      createdAt: Date.now(),
    });
    expect(created).not.toBeNull();
  }

  const storedHash = async (email: string) => (await t.app.latchkey.store.findUserByEmail(email))!.passwordHash;
  const login = (email: string, password: string) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });

  const legacy: Array<[string, () => Promise<string>]> = [
    ['bcrypt $2a$', async () => (await bcryptHash('legacy password one', 10)).replace(/^\$2b\$/, '$2a$')],
    ['bcrypt $2b$', () => bcryptHash('legacy password one', 10)],
    ['bcrypt $2y$', async () => (await bcryptHash('legacy password one', 10)).replace(/^\$2b\$/, '$2y$')],
    ['passlib argon2i', () => argon2Hash('legacy password one', { algorithm: ALG.argon2i, memoryCost: 512, timeCost: 2, parallelism: 2 })],
    ['pwdlib argon2id p=4', () => argon2Hash('legacy password one', { algorithm: ALG.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 4 })],
  ];

  it.each(legacy)('%s: a wrong password changes nothing; a right one upgrades the stored hash to the configured argon2id', async (name, make) => {
    const email = `${name.replace(/\W+/g, '-')}@legacy.example`;
    const before = await make();
    await seedUser(email, before);

    expect((await login(email, 'not the password')).statusCode).toBe(400);
    expect(await storedHash(email)).toBe(before);

    expect((await login(email, 'legacy password one')).statusCode).toBe(200);
    const after = await eventually(() => storedHash(email), (h) => h !== before);
    const phc = parsePhc(after);
    expect([phc.variant, phc.version, phc.m, phc.t, phc.p]).toEqual(['argon2id', 19, 19_456, 2, 1]);
    expect((await t.app.latchkey.hasher.verify(after, 'legacy password one')).ok).toBe(true);

    // The upgraded hash logs in, and is not upgraded again.
    expect((await login(email, 'legacy password one')).statusCode).toBe(200);
    await eventually(async () => t.app.latchkey.hasher.queue.active, (n) => n === 0);
    expect(await storedHash(email)).toBe(after);
  });

  it('a hash made with the current parameters is left alone', async () => {
    const reg = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: 'current@example.com', password: 'current params password' },
    });
    expect(reg.statusCode).toBe(201);
    const before = await storedHash('current@example.com');
    expect(parsePhc(before).variant).toBe('argon2id');
    expect((await login('current@example.com', 'current params password')).statusCode).toBe(200);
    await eventually(async () => t.app.latchkey.hasher.queue.active, (n) => n === 0);
    expect(await storedHash('current@example.com')).toBe(before);
  });
});

describe('password policy', () => {
  it('ships a list of at least 10,000 common passwords, lower-case and at least 8 characters', () => {
    const list = commonPasswords();
    expect(list.size).toBeGreaterThanOrEqual(10_000);
    for (const p of list) {
      expect(p, `${p} is not lower-case, so it could never match`).toBe(p.toLowerCase());
      expect([...p].length, `${p} is shorter than the minimum, so it is dead weight`).toBeGreaterThanOrEqual(PASSWORD_MIN_LENGTH);
    }
  });

  it.each(['password', 'PASSWORD', 'Password', '12345678', 'iloveyou', 'qwertyuiop', 'sunshine'])('refuses the common password %j', (pw) => {
    expect(checkPasswordPolicy('password', pw)).toEqual({ field: 'password', message: expect.stringContaining('common') });
  });

  it('counts characters, not UTF-16 units: 8 to 256', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(8);
    expect(PASSWORD_MAX_LENGTH).toBe(256);
    expect(checkPasswordPolicy('password', 'zq7#kw2')?.message).toMatch(/at least 8/);
    expect(checkPasswordPolicy('password', 'zq7#kw2m')).toBeNull();
    expect(checkPasswordPolicy('password', '🔑'.repeat(7))?.message).toMatch(/at least 8/);
    expect(checkPasswordPolicy('password', '🔑'.repeat(8))).toBeNull();
    expect(checkPasswordPolicy('password', 'x'.repeat(255) + '🔑')).toBeNull();
    expect(checkPasswordPolicy('password', 'x'.repeat(257))?.message).toMatch(/at most 256/);
  });

  it('has no composition rules', () => {
    for (const pw of ['onlylowercaseletters', 'ONLYUPPERCASELETTERS', '90817263544536', 'spaces are fine too', 'ünïcödé pässwörd']) {
      expect(commonPasswords().has(pw.toLowerCase())).toBe(false);
      expect(checkPasswordPolicy('password', pw), pw).toBeNull();
    }
  });
});
