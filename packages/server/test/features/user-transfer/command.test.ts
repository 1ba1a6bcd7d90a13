/** The CLI wiring of `latchkey users import|export`, run as a real process (needs `npm run build`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../support/helpers.js';
import { bcrypt, openDb, sha256File } from '../../support/import-fixtures.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'latchkey.js');
const DIST = join(dirname(BIN), '..', 'dist', 'features', 'user-transfer', 'command.js');
const tmp = tempDir('latchkey-import-cli-');
afterAll(() => tmp.cleanup());

function run(args: string[], dbPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp.dir,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: `sqlite:${dbPath}`, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let hash: string;
let kvFile: string;
beforeAll(async () => {
  // Spawned tests run the compiled CLI: `npm test` builds first; a stale or missing build is an error, not a skip.
  if (!existsSync(DIST)) throw new Error('packages/server/dist is missing the import command: run `npm run build`');
  hash = await bcrypt('cli password 123');
  kvFile = join(tmp.dir, 'users.kv.json');
  writeFileSync(
    kvFile,
    JSON.stringify({
      'a@example.com': { email: 'a@example.com', password: hash, id: 1, created_at: '2024-01-01T00:00:00Z' },
      'b@example.com': { email: 'b@example.com', password: hash, id: 2, created_at: '2024-01-02T00:00:00Z' },
      'c@example.com': { email: 'c@example.com', password: 'not-a-hash', id: 3 },
    }),
  );
});

describe('latchkey users import', () => {
  it('a dry run against a database that does not exist creates nothing', async () => {
    const dbPath = join(tmp.dir, 'data', 'dry.db');
    const r = await run(['users', 'import', kvFile, '--format', 'kv', '--dry-run', '--json'], dbPath);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, imported: 2, failed: 1 });
    expect(existsSync(dbPath)).toBe(false);
    expect(existsSync(dirname(dbPath))).toBe(false);
  });

  it('imports, writes the id map and failures, prints progress lines (no terminal) and the summary', async () => {
    const dbPath = join(tmp.dir, 'cli.db');
    const r = await run(
      ['users', 'import', kvFile, '--format', 'kv', '--id-map', 'ids.csv', '--failures', 'failures.jsonl'],
      dbPath,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('import of ' + kvFile + ' (format kv, on conflict skip)');
    expect(r.stdout).toMatch(/imported +2 created/);
    expect(r.stdout).toMatch(/failed +1\n/);
    expect(r.stdout).toContain('line 1: not a recognised password hash');
    expect(r.stdout + r.stderr).not.toContain(hash);
    // stderr: which database (every command names it), then the one progress line, nothing else.
    const [database, progress, ...rest] = r.stderr.split('\n');
    expect(database).toBe(`latchkey: database sqlite ${dbPath}`);
    expect(progress).toMatch(/^import: 3 rows \(100% of the file\), [\d,]+ rows\/s {2}2 written, 1 failed$/);
    expect(rest).toEqual(['']);
    const ids = readFileSync(join(tmp.dir, 'ids.csv'), 'utf8').trim().split('\n');
    expect(ids[0]).toBe('line,source_id,latchkey_id,email,outcome');
    expect(ids.slice(1).map((l) => l.split(','))).toEqual([
      ['1', '1', expect.stringMatching(/^[0-9a-f-]{36}$/), 'a@example.com', 'imported'],
      ['1', '2', expect.stringMatching(/^[0-9a-f-]{36}$/), 'b@example.com', 'imported'],
    ]);
    expect(readFileSync(join(tmp.dir, 'failures.jsonl'), 'utf8')).toBe(
      JSON.stringify({ line: 1, reason: 'not a recognised password hash (plaintext or an unknown format); refused' }) + '\n',
    );
    const store = openDb(dbPath);
    expect((await store.findUserByEmail('a@example.com'))!.passwordHash).toBe(hash);
    await store.close();

    const again = await run(['users', 'import', kvFile, '--format', 'kv', '--json', '--quiet'], dbPath);
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, skipped: 2, failed: 1 });
    // --quiet drops the progress lines; the line naming the database stays (every command says it).
    expect(again.stderr).toBe(`latchkey: database sqlite ${dbPath}\n`);

    // A dry run against the existing database leaves its file byte for byte as it was.
    const more = join(tmp.dir, 'more.kv.json');
    writeFileSync(more, JSON.stringify({ 'd@example.com': { password: hash }, 'a@example.com': { password: hash } }));
    const digest = sha256File(dbPath);
    const dry = await run(['users', 'import', more, '--format', 'kv', '--dry-run', '--json', '--quiet'], dbPath);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, imported: 1, skipped: 1, failed: 0 });
    expect(sha256File(dbPath)).toBe(digest);
    expect(existsSync(dbPath + '-wal')).toBe(false);
  });

  it('refuses bad arguments with the usage and exit code 1', async () => {
    const dbPath = join(tmp.dir, 'usage.db');
    const bad = await run(['users', 'import', kvFile, '--format', 'csv'], dbPath);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--format must be mongo, sql, kv or jsonl');
    const idMap = await run(['users', 'import', kvFile, '--format', 'kv', '--dry-run', '--id-map', 'x.csv'], dbPath);
    expect(idMap.code).toBe(1);
    expect(idMap.stderr).toContain('--id-map cannot be used with --dry-run');
    const domain = await run(['users', 'import', kvFile, '--format', 'kv', '--email-domain', 'x.io'], dbPath);
    expect(domain.stderr).toContain('--email-domain applies to --format sql only');
    const help = await run(['help'], dbPath);
    expect(help.stdout).toContain('users import FILE --format mongo|sql|kv|jsonl');
  });
});

describe('latchkey users export', () => {
  it('writes every user with hash to an owner-only file, or to stdout', async () => {
    const dbPath = join(tmp.dir, 'cli.db');
    const toFile = await run(['users', 'export', '--format', 'jsonl', '--output', 'users.jsonl'], dbPath);
    expect(toFile.code).toBe(0);
    expect(toFile.stderr).toMatch(/exported 2 users to users\.jsonl/);
    const path = join(tmp.dir, 'users.jsonl');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { email: string; password_hash: string });
    expect(lines.map((l) => [l.email, l.password_hash])).toEqual([
      ['a@example.com', hash],
      ['b@example.com', hash],
    ]);
    const toStdout = await run(['users', 'export', '--format', 'jsonl', '--quiet'], dbPath);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(readFileSync(path, 'utf8'));
  });
});
