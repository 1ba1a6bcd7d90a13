#!/usr/bin/env node
/**
 * Imports 100,000 users from a mongoexport-style file into a fresh SQLite database with the real
 * CLI (`latchkey users import --format mongo`), and reports the time.
 *
 * Baseline, measured in the same run on the same machine: the bare storage cost — the same
 * 100,000 rows, already built, written with `store.importUsers` in batches of 1,000. The ratio
 * (full import / baseline) shows what parsing, validation, planning lookups and the process
 * start add on top of writing. Hashes: 4 real bcrypt (cost 10) hashes reused, since computing
 * 100,000 would measure bcrypt, not the import.
 *
 * Usage: npm run build && node bench/import-100k.mjs [--users N]
 */
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { users: { type: 'string', default: '100000' } } });
const N = Number(values.users);
const { SqliteStore } = await import(join(root, 'packages/server/dist/store/sqlite/index.js'));

const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-import-'));
try {
  const hashes = await Promise.all(['alpha pass 1', 'bravo pass 2', 'charlie pass 3', 'delta pass 4'].map((p) => bcryptHash(p, 10)));
  const roles = ['user', 'user', 'user', 'admin', 'editor'];
  const t0 = Date.UTC(2022, 0, 1);

  // 1. the source file, written as mongoexport writes it (one Extended JSON document per line)
  const file = join(dir, 'users.json');
  const out = createWriteStream(file);
  for (let i = 0; i < N; i++) {
    const created = t0 + i * 60_000;
    const oid = Math.floor(created / 1000).toString(16).padStart(8, '0') + i.toString(16).padStart(16, '0');
    const line = JSON.stringify({
      _id: { $oid: oid },
      name: `User ${i}`,
      email: `User${i}@Example.com`,
      photo: 'default.png',
      role: roles[i % roles.length],
      verified: i % 3 === 0,
      password: hashes[i % hashes.length],
      created_at: { $date: new Date(created).toISOString() },
      updated_at: { $date: new Date(created + 1000).toISOString() },
      __v: 0,
    });
    if (!out.write(line + '\n')) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
  const bytes = statSync(file).size;

  // 2. baseline: the storage alone, rows pre-built, batches of 1,000
  const baseStore = new SqliteStore(join(dir, 'baseline.db'));
  baseStore.migrateSync();
  const rows = Array.from({ length: N }, (_, i) => ({
    id: randomUUID(),
    email: `user${i}@example.com`,
    name: `User ${i}`,
    passwordHash: hashes[i % hashes.length],
    roles: i % 5 === 3 ? ['admin'] : i % 5 === 4 ? ['editor'] : [],
    emailVerified: i % 3 === 0,
    disabled: false,
    createdAt: t0 + i * 60_000,
    updatedAt: t0 + i * 60_000 + 1000,
  }));
  const b0 = performance.now();
  for (let i = 0; i < N; i += 1000) await baseStore.importUsers(rows.slice(i, i + 1000), 'skip');
  const baselineMs = performance.now() - b0;
  await baseStore.close();

  // 3. the real CLI, as an operator runs it
  const dbPath = join(dir, 'latchkey.db');
  const w0 = performance.now();
  const result = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'packages/server/bin/latchkey.js'), 'users', 'import', file, '--format', 'mongo', '--json', '--quiet'], {
      env: { ...process.env, DATABASE_URL: `sqlite:${dbPath}`, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
  const wallMs = performance.now() - w0;
  if (result.code !== 0) throw new Error(`import exited with ${result.code}: ${result.stdout}`);
  const summary = JSON.parse(result.stdout);

  const check = new SqliteStore(dbPath);
  const count = check.db.prepare('SELECT count(*) AS n FROM users').get().n;
  await check.close();
  if (count !== N || summary.imported !== N) throw new Error(`expected ${N} users, found ${count} (summary ${summary.imported})`);

  const report = {
    users: N,
    fileMiB: +(bytes / 1048576).toFixed(1),
    importMs: summary.elapsedMs,
    wallMs: Math.round(wallMs),
    rowsPerSecond: Math.round(N / (summary.elapsedMs / 1000)),
    baselineStorageOnlyMs: Math.round(baselineMs),
    ratioImportToBaseline: +(summary.elapsedMs / baselineMs).toFixed(2),
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `\n${N.toLocaleString('en-US')} users (${report.fileMiB} MiB) imported in ${(summary.elapsedMs / 1000).toFixed(2)} s ` +
      `(${(wallMs / 1000).toFixed(2)} s wall, process start included); storage alone ${(baselineMs / 1000).toFixed(2)} s; ` +
      `ratio ${report.ratioImportToBaseline}x`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
