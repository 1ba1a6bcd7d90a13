import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/helpers.js';
import { postJson, runCli, startServer, type ServerProcess } from '../support/server-process.js';

const PASSWORD = 'correct horse battery staple';

describe('latchkey backup / restore (SQLite)', () => {
  const dir = tempDir('latchkey-backup-');
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop('SIGKILL');
    dir.cleanup();
  });

  it('backs up under write load; the restored copy serves every backed-up user', async () => {
    const dbUrl = `sqlite:${join(dir.dir, 'live.db')}`;
    const live = await startServer({ DATABASE_URL: dbUrl });
    servers.push(live);

    // Continuous registrations while the backup runs.
    let writing = true;
    let registered = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const r = await postJson(`${live.url}/auth/register`, { email: `load${i}@example.com`, password: PASSWORD });
        expect(r.status).toBe(201);
        registered++;
      }
    })();
    while (registered < 10) await new Promise((r) => setTimeout(r, 20));
    const file = join(dir.dir, 'backup.db');
    const backup = await runCli(['backup', file], { DATABASE_URL: dbUrl });
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/backup written to .*: \d+ users/);
    // Keep writing a little after the backup, then stop.
    const atBackup = registered;
    while (registered < atBackup + 5) await new Promise((r) => setTimeout(r, 20));
    writing = false;
    await writer;

    const snapshot = new Database(file, { readonly: true });
    const emails = (snapshot.prepare('SELECT email FROM users ORDER BY email').all() as Array<{ email: string }>).map((r) => r.email);
    expect(snapshot.pragma('integrity_check', { simple: true })).toBe('ok');
    snapshot.close();
    expect(emails.length).toBeGreaterThanOrEqual(10);
    expect(emails.length).toBeLessThan(registered);

    // A backup never overwrites an existing file.
    expect((await runCli(['backup', file], { DATABASE_URL: dbUrl })).code).toBe(1);
    // Restoring over a database that a running server holds is refused.
    const busy = await runCli(['restore', file], { DATABASE_URL: dbUrl });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('stop the server');

    // Restore into a fresh location (an existing directory: only ./data is made when missing)
    // and start a fresh server on it.
    mkdirSync(join(dir.dir, 'restored'));
    const freshUrl = `sqlite:${join(dir.dir, 'restored', 'latchkey.db')}`;
    const restore = await runCli(['restore', file], { DATABASE_URL: freshUrl });
    expect(restore.code, restore.stderr).toBe(0);
    const restored = await startServer({ DATABASE_URL: freshUrl });
    servers.push(restored);
    for (const email of emails) {
      const login = await postJson(`${restored.url}/auth/login`, { email, password: PASSWORD });
      expect(login.status, email).toBe(200);
    }
    // Users registered after the backup are not in it.
    const after = await postJson(`${restored.url}/auth/login`, { email: `load${registered - 1}@example.com`, password: PASSWORD });
    expect(after.status).toBe(400);
  });

  it('refuses a file that is not a Latchkey database and PostgreSQL URLs', async () => {
    const bogus = join(dir.dir, 'not-a-db.db');
    const db = new Database(bogus);
    db.exec('CREATE TABLE t (x)');
    db.close();
    const r = await runCli(['restore', bogus], { DATABASE_URL: `sqlite:${join(dir.dir, 'x.db')}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a Latchkey database');
    expect(existsSync(join(dir.dir, 'x.db'))).toBe(false);
    const pg = await runCli(['backup', join(dir.dir, 'pg.db')], { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' });
    expect(pg.code).toBe(1);
    expect(pg.stderr).toContain('pg_dump');
  });
});

describe('latchkey doctor', () => {
  const dir = tempDir('latchkey-doctor-');
  afterAll(() => dir.cleanup());

  it('reports a bad setting by name and exits 1', async () => {
    const r = await runCli(['doctor'], { ACCESS_TOKEN_TTL: 'forever' }, dir.dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL config: ACCESS_TOKEN_TTL/);
    expect(r.stdout).toContain('fix:');
  });

  it('passes on a migrated database with keys, warning about the outbox and pending nothing', async () => {
    const dbUrl = `sqlite:${join(dir.dir, 'ok.db')}`;
    const s = await startServer({ DATABASE_URL: dbUrl });
    await s.stop();
    const r = await runCli(['doctor'], { DATABASE_URL: dbUrl, MAIL_OUTBOX_DIR: join(dir.dir, 'outbox') }, dir.dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`ok   database: sqlite ${join(dir.dir, 'ok.db')} reachable`);
    expect(r.stdout).toMatch(/ok {3}migrations: schema is up to date/);
    expect(r.stdout).toMatch(/ok {3}keys: active key \S+ \(RS256\)/);
    expect(r.stdout).toMatch(/WARN mail: no SMTP_URL/);
  });

  it('fails when the database is unreachable or the SMTP server is down', async () => {
    const pg = await runCli(['doctor'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' }, dir.dir);
    expect(pg.code).toBe(1);
    expect(pg.stdout).toMatch(/FAIL database: cannot reach the database/);
    const smtp = await runCli(['doctor'], { DATABASE_URL: `sqlite:${join(dir.dir, 'ok.db')}`, SMTP_URL: 'smtp://127.0.0.1:1' }, dir.dir);
    expect(smtp.code).toBe(1);
    expect(smtp.stdout).toMatch(/FAIL mail: SMTP smtp:\/\/127.0.0.1:1/);
  });
});
