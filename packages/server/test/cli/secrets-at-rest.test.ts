/**
 * The SQLite database (it holds the private signing keys and the password hashes), its -wal and
 * -shm, backups and exports are created 0600, in directories Latchkey creates as 0700; what the
 * operator made is left alone and `latchkey doctor` reports it, every problem with its command.
 * Real processes run under umask 022 (the usual default, which gives 0644 files), so that the
 * modes come from Latchkey and not from a strict umask of the test runner; the files are stat-ed.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/helpers.js';
import { CLI, http, startServer, type ServerProcess } from '../support/latchkey-process.js';

const PASSWORD = 'correct horse battery staple';
/** Runs node with `args` under umask 022: `exec` keeps the pid, so stop() still signals node itself. */
const UMASK_022 = (args: string[]) => ({ file: '/bin/sh', args: ['-c', 'umask 022 && exec "$0" "$@"', process.execPath, ...args] });

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

function cli(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { file, args: argv } = UMASK_022([CLI, ...args]);
  return new Promise((resolve) => {
    const child = spawn(file, argv, { cwd, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('files that hold secrets are private', () => {
  const { dir: root, cleanup } = tempDir('latchkey-perms-');
  /** A directory of its own per attempt, so that a retried test starts clean. */
  const caseDir = () => mkdtempSync(join(root, 'case-'));
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
    cleanup();
  });

  async function serve(dbPath: string): Promise<ServerProcess> {
    const s = await startServer({ DATABASE_URL: `sqlite:${dbPath}`, MAIL_OUTBOX_DIR: join(root, 'outbox') }, { cwd: root, command: UMASK_022([CLI, 'serve']) });
    servers.push(s);
    return s;
  }

  it('the database, its -wal and -shm after a write, and the data directory created for it', async () => {
    const dir = caseDir();
    // The default database: ./data is the one directory made when missing (startup-errors.test.ts).
    const db = join(dir, 'data', 'latchkey.db');
    const s = await startServer({ MAIL_OUTBOX_DIR: join(root, 'outbox') }, { cwd: dir, command: UMASK_022([CLI, 'serve']) });
    servers.push(s);
    expect((await http(`${s.url}/auth/register`, { json: { email: `a-${Date.now()}@example.com`, password: PASSWORD } })).status).toBe(201);
    expect(existsSync(`${db}-wal`) && existsSync(`${db}-shm`)).toBe(true);
    expect([mode(db), mode(`${db}-wal`), mode(`${db}-shm`)]).toEqual(['600', '600', '600']);
    expect(mode(join(dir, 'data'))).toBe('700');
    await s.stop();
    // The control: under the same umask node creates an ordinary file 0644 and a directory 0755.
    const { file, args } = UMASK_022(['-e', `require('fs').writeFileSync('plain', ''); require('fs').mkdirSync('plain-dir')`]);
    expect(spawnSync(file, args, { cwd: dir }).status).toBe(0);
    expect([mode(join(dir, 'plain')), mode(join(dir, 'plain-dir'))]).toEqual(['644', '755']);
  });

  it('backups, restores (and the copy of the replaced database), exports, id maps and failure lists', async () => {
    const dir = caseDir();
    mkdirSync(join(dir, 'source'));
    const db = join(dir, 'source', 'latchkey.db');
    const env = { DATABASE_URL: `sqlite:${db}` };
    const s = await serve(db);
    expect((await http(`${s.url}/auth/register`, { json: { email: `b-${Date.now()}@example.com`, password: PASSWORD } })).status).toBe(201);
    const backup = join(dir, 'backup.db');
    const made = await cli(['backup', backup], env, dir);
    expect(made.code, made.stderr).toBe(0);
    expect(mode(backup)).toBe('600');

    const exported = join(dir, 'users.jsonl');
    const exportRun = await cli(['users', 'export', '--output', exported, '--quiet'], env, dir);
    expect(exportRun.code, exportRun.stderr).toBe(0);
    expect(mode(exported)).toBe('600');
    await s.stop();

    // Into a directory that does not exist: refused, as at start-up; into ./data: made private.
    const elsewhere = await cli(['restore', backup], { DATABASE_URL: `sqlite:${join(dir, 'restored', 'deeper', 'latchkey.db')}` }, dir);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain(`the directory ${join(dir, 'restored', 'deeper')} does not exist`);
    expect(existsSync(join(dir, 'restored'))).toBe(false);
    const restoredDb = join(dir, 'data', 'latchkey.db');
    const restored = await cli(['restore', backup], {}, dir);
    expect(restored.code, restored.stderr).toBe(0);
    expect([mode(restoredDb), mode(join(dir, 'data'))]).toEqual(['600', '700']);
    // Restoring over an existing database keeps the previous one, as private as itself.
    const again = await cli(['restore', backup], { DATABASE_URL: `sqlite:${restoredDb}` }, dir);
    expect(again.code, again.stderr).toBe(0);
    expect([mode(restoredDb), mode(`${restoredDb}.before-restore`)]).toEqual(['600', '600']);

    const source = join(dir, 'import.jsonl');
    writeFileSync(source, [JSON.stringify({ email: 'c@example.com', password: '$2b$10$' + 'a'.repeat(53) }), '{"email":"bad"}'].join('\n') + '\n');
    const idMap = join(dir, 'ids.csv');
    const failures = join(dir, 'failures.jsonl');
    const imported = await cli(['users', 'import', source, '--format', 'mongo', '--id-map', idMap, '--failures', failures, '--quiet'], env, dir);
    expect(imported.code, imported.stderr).toBe(2); // one row failed
    expect([mode(idMap), mode(failures)]).toEqual(['600', '600']);
  });

  it("leaves the operator's directory and existing files alone; doctor lists every loose one with its chmod", async () => {
    const dir = caseDir();
    const own = join(dir, "operator's data");
    mkdirSync(own, { mode: 0o755 });
    chmodSync(own, 0o755);
    const db = join(own, 'latchkey.db');
    const s = await serve(db);
    await s.stop();
    expect(mode(own)).toBe('755'); // not chmod-ed behind the operator's back
    expect(mode(db)).toBe('600');

    // A database of an older version: 0644, with its -wal and -shm (held open by a reader).
    const reader = new Database(db);
    try {
      reader.prepare('SELECT count(*) FROM users').get();
      for (const f of [db, `${db}-wal`, `${db}-shm`]) chmodSync(f, 0o644);
      const quoted = `'${dir}/operator'\\''s data`;
      const doctor = await cli(['doctor'], { DATABASE_URL: `sqlite:${db}`, MAIL_OUTBOX_DIR: join(dir, 'outbox') }, dir);
      expect(doctor.code, doctor.stdout).toBe(0); // warnings, not failures
      const warnings = doctor.stdout.split('\n').filter((l) => l.startsWith('WARN database.permissions'));
      expect(warnings).toHaveLength(4);
      expect(doctor.stdout).toContain(`WARN database.permissions: ${own} is mode 755: other users can list the database directory\n     fix: chmod 700 ${quoted}'`);
      for (const suffix of ['', '-wal', '-shm']) {
        expect(doctor.stdout).toContain(`WARN database.permissions: ${db}${suffix} is mode 644: other users can read the signing keys and password hashes\n     fix: chmod 600 ${quoted}/latchkey.db${suffix}'`);
      }
      // After the commands, nothing is reported.
      chmodSync(own, 0o700);
      for (const f of [db, `${db}-wal`, `${db}-shm`]) chmodSync(f, 0o600);
      const clean = await cli(['doctor'], { DATABASE_URL: `sqlite:${db}`, MAIL_OUTBOX_DIR: join(dir, 'outbox') }, dir);
      expect(clean.stdout).not.toContain('database.permissions');
    } finally {
      reader.close();
    }
  });
});
