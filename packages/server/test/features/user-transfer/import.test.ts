/**
 * `users import` for each source format, with fixture files written here with real bcrypt
 * (cost 10) and argon2 hashes, then a login over HTTP with the original password against the
 * real app on the same SQLite file, and proof that the legacy hash was re-hashed to argon2id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importUsersFromFile } from '../../../src/features/user-transfer/importer.js';
import { PasswordHasher } from '../../../src/passwords/hasher.js';
import { tempDir } from '../../support/helpers.js';
import {
  bcrypt,
  CONFIGURED_ARGON2ID,
  countUsers,
  httpLogin,
  openDb,
  pwdlibArgon2,
  serveOn,
  waitForHash,
  writeLines,
} from '../../support/import-fixtures.js';

const tmp = tempDir('latchkey-import-');
afterAll(() => tmp.cleanup());

const PASSWORDS = {
  ada: 'analytical engine notes',
  grace: 'nanoseconds of wire',
  // 80 bytes: bcrypt only ever sees the first 72.
  linus: 'just for fun '.repeat(6) + 'kernel',
  alice: 'wonderland rabbit hole',
  bob: 'builder can we fix it',
  carol: 'christmas carol ghosts',
  dave: 'open the pod bay doors',
  eve: 'eavesdropping is rude',
  frank: 'frankly my dear',
};

describe('mongo: a mongoexport of the tutorial users collection', () => {
  const dbPath = join(tmp.dir, 'mongo.db');
  let hashes: { ada: string; grace: string; linus: string };
  let file: string;
  const adaCreated = Date.UTC(2023, 2, 1, 10, 0, 0, 123);
  const adaUpdated = 1_680_000_000_000;
  const linusOid = '65a1b2c3d4e5f60718293a4b';

  beforeAll(async () => {
    const [ada, grace, linus] = await Promise.all([bcrypt(PASSWORDS.ada), bcrypt(PASSWORDS.grace), bcrypt(PASSWORDS.linus)]);
    hashes = { ada, grace, linus };
    expect(PASSWORDS.linus.length).toBe(84);
    file = writeLines(tmp.dir, 'users.mongo.json', [
      {
        _id: { $oid: '64f0c0ffee0000000000aaaa' },
        name: 'Ada Lovelace',
        email: '  Ada@Example.COM ',
        photo: 'default.png',
        role: 'user',
        verified: true,
        password: ada,
        created_at: { $date: new Date(adaCreated).toISOString() },
        updated_at: { $date: { $numberLong: String(adaUpdated) } },
        __v: 0,
      },
      {
        _id: { $oid: '64f0c0ffee0000000000bbbb' },
        name: 'Grace Hopper',
        email: 'grace@example.com',
        role: 'admin',
        verified: false,
        password: grace,
        created_at: { $date: '2023-04-01T00:00:00Z' },
        updated_at: { $date: '2023-04-02T00:00:00Z' },
      },
      // no created_at: the ObjectId's embedded time is used
      { _id: { $oid: linusOid }, name: 'Linus', email: 'linus@example.com', role: 'editor', verified: true, password: linus },
      { _id: { $oid: '64f0c0ffee0000000000dddd' }, email: 'not-an-email', password: grace },
      { _id: { $oid: '64f0c0ffee0000000000eeee' }, email: 'pbkdf@example.com', password: '$pbkdf2-sha256$29000$N2bMmZMy$Q0FGRUJBQkU' },
      { _id: { $oid: '64f0c0ffee0000000000ffff' }, email: 'plain@example.com', password: 'hunter2hunter2' },
      { _id: { $oid: '64f0c0ffee000000000000aa' }, email: 'ADA@example.com', password: ada },
      '{"_id": {"$oid": "64f0c0ffee000000000000bb"}, "email": "broken@example.com", "password": ',
    ]);
  });

  it('imports valid rows, reports the invalid ones by line, and keeps the bcrypt hashes', async () => {
    const store = openDb(dbPath);
    const summary = await importUsersFromFile(store, { file, format: 'mongo' });
    expect(summary).toMatchObject({ rows: 8, imported: 3, updated: 0, skipped: 0, failed: 5, dryRun: false });
    expect(summary.failures).toEqual([
      { line: 4, reason: 'email "not-an-email" is not a valid email address' },
      { line: 5, reason: expect.stringContaining('unsupported hash scheme "pbkdf2-sha256"') },
      { line: 6, reason: 'not a recognised password hash (plaintext or an unknown format); refused' },
      { line: 7, reason: 'duplicate email "ada@example.com" (same normalised address as line 1)' },
      { line: 8, reason: 'unterminated JSON value starting at line 8' },
    ]);
    expect(JSON.stringify(summary)).not.toContain('hunter2');
    expect(countUsers(store)).toBe(3);

    const ada = (await store.findUserByEmail('ada@example.com'))!;
    expect(ada).toMatchObject({
      name: 'Ada Lovelace',
      roles: [],
      emailVerified: true,
      disabled: false,
      passwordHash: hashes.ada,
      createdAt: adaCreated,
      updatedAt: adaUpdated,
    });
    // ObjectIds are not UUIDs: a new Latchkey id is generated (and reported by --id-map).
    expect(ada.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await store.findUserByEmail('grace@example.com')).toMatchObject({ roles: ['admin'], emailVerified: false });
    const linus = (await store.findUserByEmail('linus@example.com'))!;
    expect(linus.roles).toEqual(['editor']);
    expect(linus.createdAt).toBe(parseInt(linusOid.slice(0, 8), 16) * 1000);
    expect(linus.updatedAt).toBe(linus.createdAt);
    await store.close();
  });

  it('documents bcrypt truncation: the 72-byte prefix of a longer password verifies the imported hash', async () => {
    const hasher = new PasswordHasher({ memoryKib: 19456, timeCost: 2, parallelism: 1 }, 1, 0);
    expect((await hasher.verify(hashes.linus, PASSWORDS.linus.slice(0, 72))).ok).toBe(true);
    expect((await hasher.verify(hashes.linus, PASSWORDS.linus.slice(0, 71))).ok).toBe(false);
  });

  it('logs in over HTTP with the old password; the hash becomes the configured argon2id', async () => {
    const server = await serveOn(dbPath);
    const store = openDb(dbPath);
    try {
      const wrong = await httpLogin(server, 'ada@example.com', 'not the password');
      expect(wrong.status).toBe(400);
      expect(wrong.body.code).toBe('INVALID_CREDENTIALS');

      const ok = await httpLogin(server, 'Ada@Example.com', PASSWORDS.ada);
      expect(ok.status).toBe(200);
      expect(ok.body.access_token).toEqual(expect.any(String));
      const upgraded = await waitForHash(store, 'ada@example.com', (h) => h !== hashes.ada);
      expect(upgraded).toMatch(CONFIGURED_ARGON2ID);
      expect((await httpLogin(server, 'ada@example.com', PASSWORDS.ada)).status).toBe(200);

      // Grace's admin role is in her access token.
      const grace = await httpLogin(server, 'grace@example.com', PASSWORDS.grace);
      expect(grace.status).toBe(200);
      const claims = JSON.parse(Buffer.from(String(grace.body.access_token).split('.')[1]!, 'base64url').toString()) as {
        roles: string[];
      };
      expect(claims.roles).toEqual(['admin']);

      // After the first login with the whole 84-byte password, the argon2id hash covers all of it:
      // the 72-byte prefix that bcrypt accepted no longer logs in.
      expect((await httpLogin(server, 'linus@example.com', PASSWORDS.linus)).status).toBe(200);
      expect(await waitForHash(store, 'linus@example.com', (h) => h !== hashes.linus)).toMatch(CONFIGURED_ARGON2ID);
      expect((await httpLogin(server, 'linus@example.com', PASSWORDS.linus.slice(0, 72))).status).toBe(400);
      expect((await httpLogin(server, 'linus@example.com', PASSWORDS.linus)).status).toBe(200);
    } finally {
      await store.close();
      await server.close();
    }
  });
});

describe('sql: a user table exported as CSV or JSON lines, argon2 hashes from pwdlib/passlib', () => {
  const dbPath = join(tmp.dir, 'sql.db');
  const daveId = '8c0b6d0e-3f1a-4a57-9c1e-2b7d5a4f6e01';
  let hashes: Record<'alice' | 'bob' | 'carol' | 'dave', string>;
  let csv: string;

  beforeAll(async () => {
    const [alice, bob, carol, dave] = await Promise.all([
      pwdlibArgon2(PASSWORDS.alice),
      pwdlibArgon2(PASSWORDS.bob),
      pwdlibArgon2(PASSWORDS.carol),
      bcrypt(PASSWORDS.dave),
    ]);
    hashes = { alice, bob, carol, dave };
    expect(alice).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
    csv = join(tmp.dir, 'user.csv');
    writeFileSync(
      csv,
      [
        'id,username,hashed_password,disabled,created_at,updated_at',
        `1,Alice@Example.org,"${alice}",false,2024-01-02 03:04:05.678901,2024-02-03 04:05:06`,
        `2,bob,"${bob}",f,2024-01-03 00:00:00,`,
        `3,carol@example.org,"${carol}",t,2024-01-04T00:00:00+02:00,2024-01-05 00:00:00+00`,
        `${daveId.toUpperCase()},dave@example.org,"${dave}",0,1704326400,1704326400`,
        `5,erin@example.org,"${alice}",maybe,2024-01-06,`,
        // not quoted: the commas of m=65536,t=3,p=4 split the field
        `6,fay@example.org,${alice},0,,`,
      ].join('\r\n') + '\r\n',
    );
  });

  it('imports the CSV; a username that is not an email fails with the --email-domain hint', async () => {
    const store = openDb(dbPath);
    const summary = await importUsersFromFile(store, { file: csv, format: 'sql' });
    expect(summary).toMatchObject({ rows: 6, imported: 3, failed: 3 });
    expect(summary.failures).toEqual([
      { line: 3, reason: 'username "bob" is not an email address (pass --email-domain DOMAIN to import it as "bob@DOMAIN")' },
      { line: 6, reason: 'disabled is not a boolean' },
      {
        line: 7,
        reason: 'expected 6 fields as in the header, found 8 (fields containing commas, like argon2 hashes, must be in double quotes)',
      },
    ]);
    expect(await store.findUserByEmail('alice@example.org')).toMatchObject({
      passwordHash: hashes.alice,
      disabled: false,
      emailVerified: false,
      roles: [],
      createdAt: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
      updatedAt: Date.UTC(2024, 1, 3, 4, 5, 6),
    });
    expect(await store.findUserByEmail('carol@example.org')).toMatchObject({
      disabled: true,
      createdAt: Date.UTC(2024, 0, 3, 22),
      updatedAt: Date.UTC(2024, 0, 5),
    });
    // A UUID source id is kept (lower-cased); epoch seconds are read as seconds.
    expect(await store.findUserByEmail('dave@example.org')).toMatchObject({ id: daveId, createdAt: 1_704_326_400_000 });

    const again = await importUsersFromFile(store, { file: csv, format: 'sql', emailDomain: 'example.net' });
    expect(again).toMatchObject({ imported: 1, skipped: 3, skippedReasons: { exists: 3, unchanged: 0 }, failed: 2 });
    expect(await store.findUserByEmail('bob@example.net')).toMatchObject({ passwordHash: hashes.bob, createdAt: Date.UTC(2024, 0, 3) });
    await store.close();
  });

  it('reads the same table as JSON lines', async () => {
    const store = openDb(join(tmp.dir, 'sql-jsonl.db'));
    const file = writeLines(tmp.dir, 'user.jsonl', [
      { id: 7, username: 'zed@example.org', hashed_password: hashes.alice, disabled: false, created_at: '2024-03-01T00:00:00', updated_at: null },
      { id: 8, username: 'yan@example.org', hashed_password: hashes.dave, disabled: 1, created_at: 1709251200000, updated_at: 1709337600000 },
    ]);
    const summary = await importUsersFromFile(store, { file, format: 'sql' });
    expect(summary).toMatchObject({ rows: 2, imported: 2, failed: 0 });
    expect(await store.findUserByEmail('yan@example.org')).toMatchObject({
      disabled: true,
      createdAt: 1_709_251_200_000,
      updatedAt: 1_709_337_600_000,
    });
    await store.close();
  });

  it('logs in with the pwdlib argon2 password and re-hashes to the configured parameters; disabled stays disabled', async () => {
    const server = await serveOn(dbPath);
    const store = openDb(dbPath);
    try {
      expect((await httpLogin(server, 'alice@example.org', PASSWORDS.alice)).status).toBe(200);
      expect(await waitForHash(store, 'alice@example.org', (h) => h !== hashes.alice)).toMatch(CONFIGURED_ARGON2ID);
      expect((await httpLogin(server, 'bob@example.net', PASSWORDS.bob)).status).toBe(200);
      const carol = await httpLogin(server, 'carol@example.org', PASSWORDS.carol);
      expect(carol.status).toBe(403);
      expect(carol.body.code).toBe('ACCOUNT_DISABLED');
    } finally {
      await store.close();
      await server.close();
    }
  });
});

describe('kv: a JSON object keyed by email', () => {
  it('imports bcrypt $2y$/$2a$ users; a member whose key and email differ fails at its line', async () => {
    const dbPath = join(tmp.dir, 'kv.db');
    const [eve, frank] = await Promise.all([bcrypt(PASSWORDS.eve, '$2y$'), bcrypt(PASSWORDS.frank, '$2a$')]);
    const file = join(tmp.dir, 'users.kv.json');
    writeFileSync(
      file,
      JSON.stringify(
        {
          'eve@example.com': { email: 'eve@example.com', password: eve, id: 1 },
          'Frank@Example.com': { email: 'frank@example.com', password: frank, id: 'f-2' },
          'mallory@example.com': { email: 'someone-else@example.com', password: frank, id: 3 },
          'oscar@example.com': 'not an object',
        },
        null,
        2,
      ),
    );
    const store = openDb(dbPath);
    const summary = await importUsersFromFile(store, { file, format: 'kv' });
    expect(summary).toMatchObject({ rows: 4, imported: 2, failed: 2 });
    expect(summary.failures).toEqual([
      { line: 12, reason: 'the member name "mallory@example.com" and its email "someone-else@example.com" differ' },
      { line: 17, reason: 'the value is not a JSON object' },
    ]);
    expect((await store.findUserByEmail('eve@example.com'))!.passwordHash).toBe(eve);
    await store.close();

    const server = await serveOn(dbPath);
    const check = openDb(dbPath);
    try {
      expect((await httpLogin(server, 'eve@example.com', PASSWORDS.eve)).status).toBe(200);
      expect((await httpLogin(server, 'frank@example.com', PASSWORDS.frank)).status).toBe(200);
      expect(await waitForHash(check, 'eve@example.com', (h) => h !== eve)).toMatch(CONFIGURED_ARGON2ID);
    } finally {
      await check.close();
      await server.close();
    }
  });
});
