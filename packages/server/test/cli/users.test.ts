/**
 * The command line of an operator's first hour, through the real `latchkey` binary (dist/):
 * `users list|show|create|disable|enable|set-roles|reset-password|delete` and their refusals on
 * SQLite and PostgreSQL, `--version`, the database every command names (never a password),
 * strict arguments, `keys list` on an empty database, and `create-admin` without a terminal.
 * With a server running on the same database, what the commands do to live sessions.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../../scripts/lib/local-services.mjs';
import { CLI, http, requireBuild, SERVER_DIR, startServer } from '../support/latchkey-process.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';
import { tempDir } from '../support/helpers.js';

const PASSWORD = 'correct horse battery staple';
const PG_PASSWORD = 'pg-secret-4f1e';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...opts.env };
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-cli-users-');
});
afterAll(() => work.cleanup());

function cwdFor(name: string): string {
  const dir = join(work.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('latchkey --version, strict arguments', () => {
  it('--version prints the package version', async () => {
    const res = await run(['--version'], { cwd: cwdFor('version') });
    const pkg = JSON.parse(readFileSync(join(SERVER_DIR, 'package.json'), 'utf8')) as { version: string };
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(`latchkey ${pkg.version}`);
  });

  it.each([
    [['keys', 'list', '--verbose'], "Unknown option '--verbose'", 'usage: latchkey keys list'],
    [['keys', 'spin'], 'unknown command "keys spin"', 'usage: latchkey keys rotate|list'],
    [['migrate', 'now'], 'unexpected argument "now"', 'usage: latchkey migrate'],
    [['serve', '--workers'], "Option '--workers <value>' argument missing", 'usage: latchkey serve'],
    [['serve', '--port', '80'], "Unknown option '--port'", 'usage: latchkey serve'],
    [['users', 'create', '--email'], "Option '--email <value>' argument missing", 'usage: latchkey users create --email EMAIL'],
    [['users', 'create', '--name', 'Ann'], '--email is required', 'usage: latchkey users create'],
    [['users', 'create-admin', '--email', 'a@example.com', '--password', 'x'], "Unknown option '--password'", 'usage: latchkey users create-admin'],
    [['users', 'show'], 'an argument is missing', 'usage: latchkey users show USER'],
    [['users', 'show', 'a@example.com', 'b@example.com'], 'unexpected argument "b@example.com"', 'usage: latchkey users show USER'],
    [['users', 'list', '--limit'], "Option '--limit <value>' argument missing", 'usage: latchkey users list'],
    [['users', 'list', '--limit', 'all'], '--limit must be a whole number', 'usage: latchkey users list'],
    [['users', 'set-roles', 'a@example.com'], 'give the roles, or --none', 'usage: latchkey users set-roles'],
    [['users', 'set-roles', 'a@example.com', 'Admin'], '"Admin" is not a role name', 'usage: latchkey users set-roles'],
    [['users', 'disable', '--yes', 'a@example.com'], "Unknown option '--yes'", 'usage: latchkey users disable USER'],
    [['users', 'frobnicate'], 'unknown command "users frobnicate"', 'usage: latchkey users <command>'],
    [['backup'], 'an argument is missing', 'usage: latchkey backup FILE'],
    [['doctor', '--fix'], 'unexpected argument "--fix"', 'usage: latchkey doctor'],
  ])('latchkey %j is refused with the problem and the usage, touching no database', async (args, problem, usage) => {
    const cwd = cwdFor(`strict-${args.join('-').replace(/[^a-z0-9-]/gi, '')}`);
    const res = await run(args, { cwd });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(problem);
    expect(res.stderr).toContain(usage);
    expect(res.stderr).not.toContain('latchkey: database');
    expect(res.stdout).toBe('');
  });
});

describe('every command names its database', () => {
  it('SQLite: the absolute path of the file', async () => {
    const cwd = cwdFor('db-line');
    const path = join(cwd, 'data', 'latchkey.db');
    for (const args of [['migrate'], ['keys', 'list'], ['users', 'list'], ['users', 'export', '--format', 'jsonl']]) {
      const res = await run(args, { cwd });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr, args.join(' ')).toContain(`latchkey: database sqlite ${path}\n`);
      expect(res.stdout).not.toContain('latchkey: database');
    }
  });

  it('keys list on an empty database says so', async () => {
    const res = await run(['keys', 'list'], { cwd: cwdFor('keys-empty') });
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('no signing keys yet: the server creates one at its first start (or run `latchkey keys rotate`)\n');
  });

  it('users list on an empty database says so', async () => {
    const res = await run(['users', 'list'], { cwd: cwdFor('users-empty') });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^no users yet/);
  });
});

describe('create-admin without a terminal', () => {
  it('with neither LATCHKEY_ADMIN_PASSWORD nor anything on stdin: says so, creates nothing', async () => {
    const cwd = cwdFor('no-terminal');
    const res = await run(['users', 'create-admin', '--email', 'root@example.com'], { cwd });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('no password: there is no terminal to ask on and LATCHKEY_ADMIN_PASSWORD is not set');
    expect((await run(['users', 'list'], { cwd })).stdout).toMatch(/^no users yet/);
  });
});

/** The commands on one database; `env` points DATABASE_URL at it. */
function usersCommands(name: string, env: () => Record<string, string>, expectedDatabase: () => string) {
  describe(`latchkey users on ${name}`, () => {
    let cwd: string;
    beforeAll(() => {
      cwd = cwdFor(`users-${name}`);
    });
    const cli = (args: string[], extra: Record<string, string> = {}, input?: string) => run(args, { cwd, env: { ...env(), ...extra }, input });

    it('create, list, show: the rules of the server, the database named without its password', async () => {
      const admin = await cli(['users', 'create-admin', '--email', 'root@example.com'], { LATCHKEY_ADMIN_PASSWORD: PASSWORD });
      expect(admin.code, admin.stderr).toBe(0);
      expect(admin.stderr).toContain(`latchkey: database ${expectedDatabase()}\n`);
      expect(admin.stderr + admin.stdout).not.toContain(PG_PASSWORD);
      const ann = await cli(['users', 'create', '--email', ' Ann@Example.com ', '--name', 'Ann', '--role', 'editor', '--role', 'billing:read'], {
        LATCHKEY_PASSWORD: PASSWORD,
      });
      expect(ann.code, ann.stderr).toBe(0);
      expect(ann.stdout).toMatch(/^user ann@example\.com created \(id [0-9a-f-]{36}\)\n$/);
      const bob = await cli(['users', 'create', '--email', 'bob@example.com', '--verified'], {}, `${PASSWORD}\n`);
      expect(bob.code, bob.stderr).toBe(0);

      const weak = await cli(['users', 'create', '--email', 'weak@example.com'], { LATCHKEY_PASSWORD: 'short' });
      expect(weak.code).toBe(1);
      expect(weak.stderr).toContain('Password must be at least 8 characters.');
      const taken = await cli(['users', 'create', '--email', 'ann@example.com'], { LATCHKEY_PASSWORD: PASSWORD });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain('An account with this email already exists.');
      const badEmail = await cli(['users', 'create', '--email', 'ann@'], { LATCHKEY_PASSWORD: PASSWORD });
      expect(badEmail.stderr).toContain('not an email address: ann@');

      const list = await cli(['users', 'list']);
      expect(list.code).toBe(0);
      const rows = list.stdout.trim().split('\n').map((l) => l.split('\t'));
      expect(rows[0]).toEqual(['id', 'email', 'name', 'roles', 'verified', 'status', 'created']);
      expect(rows.slice(1).map((r) => [r[1], r[2], r[3], r[4], r[5]])).toEqual([
        ['root@example.com', '-', 'admin', 'verified', 'active'],
        ['ann@example.com', 'Ann', 'editor,billing:read', 'unverified', 'active'],
        ['bob@example.com', '-', '-', 'verified', 'active'],
      ]);
      expect((await cli(['users', 'list', '--role', 'editor'])).stdout).toContain('ann@example.com');
      expect((await cli(['users', 'list', '--search', 'nobody'])).stdout).toBe('no users match\n');
      const limited = await cli(['users', 'list', '--limit', '1']);
      expect(limited.stdout.trim().split('\n')).toHaveLength(2);
      expect(limited.stderr).toContain('more users than --limit 1');

      const show = await cli(['users', 'show', 'ann@example.com']);
      expect(show.code).toBe(0);
      expect(show.stdout).toContain('email:     ann@example.com (not verified)');
      expect(show.stdout).toContain('roles:     editor, billing:read');
      expect(show.stdout).toContain('admin_user_created');
      const byId = await cli(['users', 'show', rows[2]![0]!]);
      expect(byId.stdout).toContain('ann@example.com');
      const missing = await cli(['users', 'show', 'nobody@example.com']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no user with the email address or id "nobody@example.com"');
    });

    it('disable, enable, set-roles, reset-password, delete, and the last admin kept', async () => {
      const disable = await cli(['users', 'disable', 'ann@example.com']);
      expect(disable.code, disable.stderr).toBe(0);
      expect(disable.stdout).toBe('ann@example.com disabled; 0 session(s) ended\n');
      expect((await cli(['users', 'list', '--disabled'])).stdout).toContain('ann@example.com');
      expect((await cli(['users', 'enable', 'ann@example.com'])).stdout).toBe('ann@example.com enabled\n');

      const roles = await cli(['users', 'set-roles', 'ann@example.com', 'viewer']);
      expect(roles.stdout).toContain('roles of ann@example.com: viewer; sessions kept');
      expect((await cli(['users', 'set-roles', 'ann@example.com', '--none'])).stdout).toContain('roles of ann@example.com: none');

      // The last enabled admin is never demoted, disabled or deleted.
      for (const args of [['users', 'set-roles', 'root@example.com', '--none'], ['users', 'disable', 'root@example.com'], ['users', 'delete', 'root@example.com', '--yes']]) {
        const refused = await cli(args);
        expect(refused.code, args.join(' ')).toBe(1);
        expect(refused.stderr).toContain('This is the last enabled admin; make another admin first.');
      }

      const reset = await cli(['users', 'reset-password', 'bob@example.com'], { LATCHKEY_PASSWORD: 'a new passphrase for bob' });
      expect(reset.code, reset.stderr).toBe(0);
      expect(reset.stdout).toBe('password of bob@example.com reset; 0 session(s) ended\n');
      const weak = await cli(['users', 'reset-password', 'bob@example.com'], { LATCHKEY_PASSWORD: 'password' });
      expect(weak.code).toBe(1);
      expect(weak.stderr).toContain('Password is one of the most common passwords');
      const nobody = await cli(['users', 'reset-password', 'nobody@example.com'], { LATCHKEY_PASSWORD: 'whatever passphrase' });
      expect(nobody.stderr).toContain('no user with the email address or id "nobody@example.com"');

      const unconfirmed = await cli(['users', 'delete', 'bob@example.com']);
      expect(unconfirmed.code).toBe(1);
      expect(unconfirmed.stderr).toContain('this deletes bob@example.com with their sessions and security events; add --yes to confirm');
      const deleted = await cli(['users', 'delete', 'bob@example.com', '--yes']);
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toMatch(/^deleted bob@example\.com/);
      expect((await cli(['users', 'show', 'bob@example.com'])).code).toBe(1);
    });
  });
}

usersCommands(
  'SQLite',
  () => ({}),
  () => `sqlite ${join(work.dir, 'users-SQLite', 'data', 'latchkey.db')}`,
);

let pgUrl: string;
usersCommands(
  'PostgreSQL',
  () => ({ DATABASE_URL: pgUrl }),
  () => {
    const u = new URL(pgUrl);
    return `postgres postgres@${u.host}${u.pathname}`;
  },
);
beforeAll(async () => {
  // Trust authentication accepts any password: the URL carries one that must never be printed.
  const url = new URL(await createTestDatabase('latchkey_cli_users'));
  url.password = PG_PASSWORD;
  pgUrl = url.toString();
});
afterAll(async () => {
  if (pgUrl) await dropTestDatabase(pgUrl);
});

describe('the commands with a server running on the same database', () => {
  it('disable and reset-password end the sessions, set-roles keeps them unless --end-sessions; the server says why', async () => {
    const cwd = cwdFor('live');
    const port = await freePort();
    const env = { DATABASE_URL: `sqlite:${join(cwd, 'live.db')}`, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn' };
    const server = await startServer({ ...env, PORT: String(port) }, { cwd });
    try {
      const signIn = async (email: string, password = PASSWORD) => {
        const res = await http(`${server.url}/auth/login`, { json: { email, password } });
        expect(res.status, res.body).toBe(200);
        return res.json<{ access_token: string; refresh_token: string }>();
      };
      const refresh = (token: string) => http(`${server.url}/auth/refresh`, { json: { refresh_token: token } });
      expect((await http(`${server.url}/auth/register`, { json: { email: 'cleo@example.com', password: PASSWORD } })).status).toBe(201);

      const first = await signIn('cleo@example.com');
      const roles = await run(['users', 'set-roles', 'cleo@example.com', 'editor'], { cwd, env });
      expect(roles.stdout).toContain('sessions kept');
      const kept = await refresh(first.refresh_token);
      expect(kept.status).toBe(200);
      const claims = JSON.parse(Buffer.from(kept.json<{ access_token: string }>().access_token.split('.')[1]!, 'base64url').toString()) as { roles: string[] };
      expect(claims.roles).toEqual(['editor']);
      const ended = await run(['users', 'set-roles', 'cleo@example.com', 'editor', 'viewer', '--end-sessions'], { cwd, env });
      expect(ended.stdout).toContain('1 session(s) ended');
      expect((await refresh(kept.json<{ refresh_token: string }>().refresh_token)).json()).toMatchObject({ code: 'INVALID_REFRESH_TOKEN', reason: 'roles_changed' });

      const second = await signIn('cleo@example.com');
      expect((await run(['users', 'reset-password', 'cleo@example.com'], { cwd, env: { ...env, LATCHKEY_PASSWORD: 'cleo new passphrase' } })).stdout).toContain(
        '1 session(s) ended',
      );
      expect((await refresh(second.refresh_token)).json()).toMatchObject({ code: 'INVALID_REFRESH_TOKEN', reason: 'password_reset' });

      const third = await signIn('cleo@example.com', 'cleo new passphrase');
      expect((await run(['users', 'disable', 'cleo@example.com'], { cwd, env })).stdout).toBe('cleo@example.com disabled; 1 session(s) ended\n');
      const disabled = await refresh(third.refresh_token);
      expect(disabled.status).toBe(403);
      expect(disabled.json()).toMatchObject({ code: 'ACCOUNT_DISABLED' });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
