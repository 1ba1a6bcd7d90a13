/**
 * Start-up errors name their setting, through the real process: a database that cannot be used
 * names DATABASE_URL with its host (never the password) and what to check; a SQLite path whose
 * directory does not exist is an error, and no directory is made outside ./data.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../../scripts/lib/local-services.mjs';
import { CLI, requireBuild } from '../support/latchkey-process.js';
import { postgresAdminUrl } from '../support/postgres.js';
import { tempDir } from '../support/helpers.js';

const SECRET = 'db-pass-77c1';

function run(args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    // A process that never gives up would hang the test: 60 s is far beyond any refusal here.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-startup-');
});
afterAll(() => work.cleanup());

describe('PostgreSQL that cannot be used', () => {
  it('nothing listening: serve and migrate exit 1 naming DATABASE_URL and the host, never the password', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: `postgres://app:${SECRET}@127.0.0.1:${port}/latchkey`, LOG_LEVEL: 'warn' };
    for (const args of [['serve'], ['serve', '--workers', '2'], ['migrate'], ['users', 'list']]) {
      const res = await run(args, work.dir, env);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toContain(`cannot use the database of DATABASE_URL (postgres app@127.0.0.1:${port}/latchkey): connect ECONNREFUSED`);
      expect(res.stderr).toContain(`Nothing accepts connections at 127.0.0.1:${port}: check that PostgreSQL is running`);
      expect(res.stdout + res.stderr).not.toContain(SECRET);
    }
  });

  it('a host name that does not resolve, and a database that does not exist: what to check', async () => {
    const noHost = await run(['migrate'], work.dir, { DATABASE_URL: `postgres://app:${SECRET}@no-such-host.invalid/latchkey` });
    expect(noHost.code).toBe(1);
    expect(noHost.stderr).toContain('DATABASE_URL (postgres app@no-such-host.invalid/latchkey)');
    expect(noHost.stderr).toContain('The host name no-such-host.invalid does not resolve');
    expect(noHost.stderr).not.toContain(SECRET);

    const url = new URL(postgresAdminUrl());
    url.pathname = '/latchkey_not_created';
    url.password = SECRET;
    const noDb = await run(['serve'], work.dir, { DATABASE_URL: url.toString(), PORT: String(await freePort()) });
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain(`DATABASE_URL (postgres postgres@${url.host}/latchkey_not_created)`);
    expect(noDb.stderr).toContain('The database latchkey_not_created does not exist: create it (createdb -O postgres latchkey_not_created)');
    expect(noDb.stderr).not.toContain(SECRET);
  });
});

describe('a SQLite path in a directory that does not exist', () => {
  it('is an error for serve and every command, and nothing is created', async () => {
    const cwd = join(work.dir, 'sqlite-missing');
    mkdirSync(cwd);
    const env = { DATABASE_URL: 'sqlite:./typo/nested/latchkey.db', PORT: String(await freePort()) };
    for (const args of [['serve'], ['migrate'], ['keys', 'list'], ['users', 'list']]) {
      const res = await run(args, cwd, env);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toContain(`DATABASE_URL (sqlite ${join(cwd, 'typo', 'nested', 'latchkey.db')}): the directory ${join(cwd, 'typo', 'nested')} does not exist.`);
      expect(res.stderr).toContain(`Create it (mkdir -p -m 700 ${join(cwd, 'typo', 'nested')}) or correct the path`);
    }
    expect(existsSync(join(cwd, 'typo'))).toBe(false);
  });

  it('the data directory of the default is still made on first use', async () => {
    const cwd = join(work.dir, 'sqlite-default');
    mkdirSync(cwd);
    const res = await run(['migrate'], cwd, {});
    expect(res.code, res.stderr).toBe(0);
    expect(existsSync(join(cwd, 'data', 'latchkey.db'))).toBe(true);
  });
});
