/**
 * Re-running an import, `--on-conflict update`, dry runs that write nothing and report exactly
 * what the real run then does, and the export -> import round trip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportUsers } from '../../../src/features/user-transfer/exporter.js';
import { importUsersFromFile } from '../../../src/features/user-transfer/importer.js';
import type { IdMapping } from '../../../src/features/user-transfer/types.js';
import { tempDir } from '../../support/helpers.js';
import { allUsers, bcrypt, countUsers, httpLogin, openDb, serveOn, sha256File, writeLines } from '../../support/import-fixtures.js';

const tmp = tempDir('latchkey-import-lifecycle-');
afterAll(() => tmp.cleanup());

let h1: string;
let h2: string;
beforeAll(async () => {
  [h1, h2] = await Promise.all([bcrypt('first password here'), bcrypt('second password here')]);
});

function mongoDoc(oid: string, email: string, hash: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _id: { $oid: oid },
    name: email.split('@')[0],
    email,
    role: 'user',
    verified: false,
    password: hash,
    created_at: { $date: '2024-01-01T00:00:00.000Z' },
    updated_at: { $date: '2024-01-01T00:00:00.000Z' },
    ...extra,
  };
}

describe('re-running an import', () => {
  it('creates no duplicates with skip; update overwrites changed rows only, keeping id and created_at', async () => {
    const store = openDb(join(tmp.dir, 'rerun.db'));
    const docs = [
      mongoDoc('650000000000000000000001', 'one@example.com', h1),
      mongoDoc('650000000000000000000002', 'two@example.com', h2),
      mongoDoc('650000000000000000000003', 'three@example.com', h1),
    ];
    const lines = writeLines(tmp.dir, 'rerun.jsonl', [...docs, { _id: { $oid: '650000000000000000000004' }, email: 'bad' }]);
    const first = await importUsersFromFile(store, { file: lines, format: 'mongo', batchSize: 2 });
    expect(first).toMatchObject({ imported: 3, skipped: 0, failed: 1 });
    const before = await allUsers(store);

    const second = await importUsersFromFile(store, { file: lines, format: 'mongo', batchSize: 2 });
    expect(second).toMatchObject({ imported: 0, updated: 0, skipped: 3, skippedReasons: { exists: 3 }, failed: 1 });
    expect(second.failures).toEqual([{ line: 4, reason: 'email "bad" is not a valid email address' }]);
    expect(await allUsers(store)).toEqual(before);

    // The same users as a mongoexport --jsonArray (one line), one of them changed.
    const changed = [
      mongoDoc('650000000000000000000001', 'ONE@example.com', h2, {
        name: 'One Renamed',
        role: 'admin',
        verified: true,
        updated_at: { $date: '2024-06-01T00:00:00.000Z' },
      }),
      docs[1],
      docs[2],
    ];
    const array = join(tmp.dir, 'rerun-array.json');
    writeFileSync(array, JSON.stringify(changed));
    const mappings: IdMapping[] = [];
    const update = await importUsersFromFile(store, {
      file: array,
      format: 'mongo',
      onConflict: 'update',
      onMapping: (m) => mappings.push(m),
    });
    expect(update).toMatchObject({ rows: 3, imported: 0, updated: 1, skipped: 2, skippedReasons: { exists: 0, unchanged: 2 }, failed: 0 });
    const oneBefore = before.find((u) => u.email === 'one@example.com')!;
    expect(await store.findUserByEmail('one@example.com')).toEqual({
      ...oneBefore,
      name: 'One Renamed',
      roles: ['admin'],
      emailVerified: true,
      passwordHash: h2,
      updatedAt: Date.UTC(2024, 5, 1),
    });
    expect(mappings.map((m) => [m.sourceId, m.id, m.outcome])).toEqual([
      ['650000000000000000000001', oneBefore.id, 'updated'],
      ['650000000000000000000002', before.find((u) => u.email === 'two@example.com')!.id, 'skipped'],
      ['650000000000000000000003', before.find((u) => u.email === 'three@example.com')!.id, 'skipped'],
    ]);
    expect(countUsers(store)).toBe(3);

    const again = await importUsersFromFile(store, { file: array, format: 'mongo', onConflict: 'update' });
    expect(again).toMatchObject({ updated: 0, skipped: 3, skippedReasons: { unchanged: 3 } });
    await store.close();
  });

  it('refuses a kept id that belongs to another user instead of merging accounts', async () => {
    const store = openDb(join(tmp.dir, 'idclash.db'));
    const id = '2f1e8c55-4d8b-4c1e-9f5a-0b2a7d9e6c11';
    const a = writeLines(tmp.dir, 'idclash-a.jsonl', [{ id, username: 'first@example.com', hashed_password: h1 }]);
    const b = writeLines(tmp.dir, 'idclash-b.jsonl', [{ id, username: 'second@example.com', hashed_password: h1 }]);
    expect(await importUsersFromFile(store, { file: a, format: 'sql' })).toMatchObject({ imported: 1 });
    const clash = await importUsersFromFile(store, { file: b, format: 'sql' });
    expect(clash).toMatchObject({ imported: 0, failed: 1 });
    expect(clash.failures[0]!.reason).toBe(`id "${id}" already belongs to another user ("first@example.com")`);
    await store.close();
  });
});

describe('dry run', () => {
  it('writes nothing and reports exactly what the real run then does', async () => {
    const dbPath = join(tmp.dir, 'dry.db');
    const setup = openDb(dbPath);
    await importUsersFromFile(setup, {
      file: writeLines(tmp.dir, 'dry-existing.jsonl', [
        { id: 1, username: 'kept@example.com', hashed_password: h1 },
        { id: 2, username: 'changed@example.com', hashed_password: h1 },
      ]),
      format: 'sql',
    });
    await setup.close();
    const file = writeLines(tmp.dir, 'dry.jsonl', [
      { id: 1, username: 'kept@example.com', hashed_password: h1 },
      { id: 2, username: 'changed@example.com', hashed_password: h2 },
      ...Array.from({ length: 25 }, (_, i) => ({ id: 10 + i, username: `new${i}@example.com`, hashed_password: i % 2 ? h1 : h2 })),
      { id: 40, username: 'new3@EXAMPLE.com', hashed_password: h1 },
      { id: 41, username: 'plain@example.com', hashed_password: 'password123' },
    ]);

    const digest = sha256File(dbPath);
    const dryStore = openDb(dbPath);
    const dry = await importUsersFromFile(dryStore, { file, format: 'sql', onConflict: 'update', dryRun: true, batchSize: 10 });
    expect(countUsers(dryStore)).toBe(2);
    await dryStore.close();
    expect(sha256File(dbPath)).toBe(digest);
    expect(dry).toMatchObject({ dryRun: true, rows: 29, imported: 25, updated: 1, skipped: 1, failed: 2 });

    const realStore = openDb(dbPath);
    const real = await importUsersFromFile(realStore, { file, format: 'sql', onConflict: 'update', batchSize: 10 });
    const { elapsedMs: _a, dryRun: _b, ...dryRest } = dry;
    const { elapsedMs: _c, dryRun: _d, ...realRest } = real;
    expect(realRest).toEqual(dryRest);
    expect(countUsers(realStore)).toBe(27);
    await realStore.close();
    expect(sha256File(dbPath)).not.toBe(digest);
  });

  it('against a database that does not exist yet, plans every valid row as new', async () => {
    const file = writeLines(tmp.dir, 'dry-empty.jsonl', [
      { id: 1, username: 'a@example.com', hashed_password: h1 },
      { id: 2, username: 'b@example.com', hashed_password: 'nope' },
    ]);
    const summary = await importUsersFromFile(null, { file, format: 'sql', dryRun: true });
    expect(summary).toMatchObject({ imported: 1, failed: 1 });
  });
});

describe('export', () => {
  it('round-trips: importing the export into an empty database reproduces every user exactly', async () => {
    const sourcePath = join(tmp.dir, 'source.db');
    const source = openDb(sourcePath);
    await importUsersFromFile(source, {
      file: writeLines(tmp.dir, 'seed.jsonl', [
        mongoDoc('650000000000000000000011', 'admin@example.com', h1, { role: 'admin', verified: true, name: 'Ádmin "quoted" ✓' }),
        mongoDoc('650000000000000000000012', 'plain@example.com', h2, { name: null }),
        mongoDoc('650000000000000000000013', 'off@example.com', h1, { disabled: true }),
      ]),
      format: 'mongo',
    });
    await source.close();
    // A user registered natively (argon2id from Latchkey itself) and one with several roles.
    const server = await serveOn(sourcePath);
    const reg = await fetch(`${server.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'native@example.com', password: 'registered natively here', name: 'Native' }),
    });
    expect(reg.status).toBe(201);
    await server.close();
    const src = openDb(sourcePath);
    const plain = (await src.findUserByEmail('plain@example.com'))!;
    await src.updateUser(plain.id, { roles: ['editor', 'billing'], locale: 'de-at' }, Date.UTC(2025, 0, 1, 0, 0, 0, 7));

    const exportPath = join(tmp.dir, 'export.jsonl');
    const out = createWriteStream(exportPath);
    const exported = await exportUsers(src, out, { pageSize: 2 });
    await new Promise<void>((resolve) => out.end(resolve));
    expect(exported.users).toBe(4);
    const lines = readFileSync(exportPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.password_hash).toMatch(/^\$(2b|argon2id)\$/);
    expect(Object.keys(lines[0]!).sort()).toEqual(
      ['created_at', 'disabled', 'email', 'email_verified', 'id', 'locale', 'name', 'password_hash', 'roles', 'updated_at'].sort(),
    );

    const targetPath = join(tmp.dir, 'target.db');
    expect(existsSync(targetPath)).toBe(false);
    const target = openDb(targetPath);
    const imported = await importUsersFromFile(target, { file: exportPath, format: 'jsonl' });
    expect(imported).toMatchObject({ rows: 4, imported: 4, failed: 0 });
    expect(await allUsers(target)).toEqual(await allUsers(src));
    expect(await importUsersFromFile(target, { file: exportPath, format: 'jsonl' })).toMatchObject({ imported: 0, skipped: 4 });
    await target.close();
    await src.close();

    const targetServer = await serveOn(targetPath);
    try {
      expect((await httpLogin(targetServer, 'native@example.com', 'registered natively here')).status).toBe(200);
    } finally {
      await targetServer.close();
    }
  });
});
