/**
 * Black-box tests of the `latchkey` command line: the real bin/latchkey.js (running the build in
 * dist/) spawned in a throwaway working directory, as a user runs it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../../scripts/lib/local-services.mjs';
import { openStore } from '../../src/store/index.js';
import { CLI, http, requireBuild } from '../support/latchkey-process.js';
import { tempDir } from '../support/helpers.js';

const REPO_ROOT = join(CLI, '..', '..', '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing of the developer's own settings leaks into the child. */
function cleanEnv(vars: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...vars };
}

function run(args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

interface Started {
  url: string;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts a long-running command in its own process group (npm and npx start children) and
 * waits for /health/ready; `stop` sends SIGTERM to that group.
 */
async function startCommand(command: string, args: string[], opts: { cwd: string; env: Record<string, string>; port: number }): Promise<Started> {
  const child = spawn(command, args, { cwd: opts.cwd, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (alive()) {
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => alive() && process.kill(-child.pid!, 'SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return child.exitCode;
  };
  const url = `http://127.0.0.1:${opts.port}`;
  for (let i = 0; i < 600; i++) {
    if (!alive()) throw new Error(`${command} ${args.join(' ')} exited (${child.exitCode}):\n${out}`);
    const ready = await http(`${url}/health/ready`, { timeoutMs: 1000 }).catch(() => null);
    if (ready?.status === 200) return { url, output: () => out, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`${command} ${args.join(' ')} never became ready:\n${out}`);
}

async function login(url: string, email: string, password: string) {
  return http(`${url}/auth/login`, { json: { email, password } });
}

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-cli-');
});
afterAll(() => work.cleanup());

/** A fresh working directory per scenario, inside the suite's temp dir. */
function cwdFor(name: string): string {
  const dir = join(work.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('latchkey help', () => {
  it('lists the commands; an unknown command fails', async () => {
    const cwd = cwdFor('help');
    const help = await run(['help'], { cwd });
    expect(help.code).toBe(0);
    for (const cmd of ['serve', 'migrate', 'keys rotate', 'keys list', 'users create-admin', 'users list', 'users show', 'users create ', 'users disable', 'users enable', 'users set-roles', 'users reset-password', 'users delete', '--version']) {
      expect(help.stdout).toContain(cmd);
    }
    const unknown = await run(['frobnicate'], { cwd });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('frobnicate');
  });
});

describe('latchkey migrate', () => {
  it('creates ./data/latchkey.db with no setup, and is idempotent', async () => {
    const cwd = cwdFor('migrate');
    const first = await run(['migrate'], { cwd });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied migrations \d/);
    expect(existsSync(join(cwd, 'data', 'latchkey.db'))).toBe(true);
    const second = await run(['migrate'], { cwd });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('up to date');
  });
});

describe('bad configuration', () => {
  it.each([
    ['PORT', 'not-a-port', 'migrate'],
    ['JWT_ALG', 'none', 'serve'],
    ['ARGON2_MEMORY_KIB', '1024', 'serve'],
    ['DATABASE_URL', 'mysql://localhost/db', 'keys'],
  ])('%s=%s stops `latchkey %s` with a message naming the variable', async (variable, value, command) => {
    const cwd = cwdFor(`bad-${variable}`);
    const res = await run(command === 'keys' ? ['keys', 'list'] : [command], { cwd, env: { [variable]: value } });
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    expect(res.stderr).toContain(variable);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('a bad value in ./.env is named too', async () => {
    const cwd = cwdFor('bad-dotenv');
    writeFileSync(join(cwd, '.env'), 'SESSION_MAX_AGE=forever\n');
    const res = await run(['serve'], { cwd });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('SESSION_MAX_AGE');
  });
});

describe('latchkey keys', () => {
  it('rotate makes a new key active, list shows every key without private material', async () => {
    const cwd = cwdFor('keys');
    const first = await run(['keys', 'rotate'], { cwd });
    expect(first.code, first.stderr).toBe(0);
    const kid1 = /new active key (\S+) \(RS256\)/.exec(first.stdout)?.[1];
    expect(kid1).toBeTruthy();
    const second = await run(['keys', 'rotate'], { cwd });
    const kid2 = /new active key (\S+) \(RS256\)/.exec(second.stdout)?.[1];
    expect(kid2).toBeTruthy();
    expect(kid2).not.toBe(kid1);

    const list = await run(['keys', 'list'], { cwd });
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout.trim().split('\n').map((line) => line.split('\t'));
    expect(rows.filter((r) => r[2] === 'active').map((r) => r[0])).toEqual([kid2]);
    expect(rows.find((r) => r[0] === kid1)?.[2]).toMatch(/^retired until /);

    const store = await openStore(`sqlite:${join(cwd, 'data', 'latchkey.db')}`);
    try {
      for (const key of await store.listSigningKeys()) {
        const secret = (JSON.parse(key.privateJwk) as { d: string }).d;
        expect(list.stdout).not.toContain(secret);
        expect(first.stdout + second.stdout).not.toContain(secret);
      }
    } finally {
      await store.close();
    }
    expect(list.stdout).not.toMatch(/"d"|PRIVATE KEY/);
  });

  it('a running server picks up `keys rotate`: new tokens carry the new kid, old tokens still verify', async () => {
    const cwd = cwdFor('keys-live');
    const port = await freePort();
    const env = { PORT: String(port), KEY_RELOAD_INTERVAL: '1s', RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn' };
    const server = await startCommand(process.execPath, [CLI, 'serve'], { cwd, env, port });
    try {
      const password = 'correct horse battery staple';
      expect((await http(`${server.url}/auth/register`, { json: { email: 'rot@example.com', password } })).status).toBe(201);
      const oldToken = (await login(server.url, 'rot@example.com', password)).json<{ access_token: string }>().access_token;
      const oldKid = decodeProtectedHeader(oldToken).kid;

      const rotated = await run(['keys', 'rotate'], { cwd, env });
      expect(rotated.code, rotated.stderr).toBe(0);
      const newKid = /new active key (\S+)/.exec(rotated.stdout)![1];

      let kid: string | undefined;
      for (let i = 0; i < 100 && kid !== newKid; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        const token = (await login(server.url, 'rot@example.com', password)).json<{ access_token: string }>().access_token;
        kid = decodeProtectedHeader(token).kid;
      }
      expect(kid).toBe(newKid);
      const me = await http(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${oldToken}` } });
      expect(me.status).toBe(200);
      const jwks = (await http(`${server.url}/.well-known/jwks.json`)).json<{ keys: Array<{ kid: string }> }>();
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('latchkey users create-admin', () => {
  const ADMIN_PASSWORD = 'an admin passphrase from env';
  const STDIN_PASSWORD = 'an admin passphrase from stdin';
  let cwd: string;
  beforeAll(() => {
    cwd = cwdFor('admin');
  });

  async function userFromStore(email: string) {
    const store = await openStore(`sqlite:${join(cwd, 'data', 'latchkey.db')}`);
    try {
      return await store.findUserByEmail(email);
    } finally {
      await store.close();
    }
  }

  it('takes the password from LATCHKEY_ADMIN_PASSWORD', async () => {
    const res = await run(['users', 'create-admin', '--email', ' Root@Example.com ', '--name', 'Root'], {
      cwd,
      env: { LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('root@example.com');
    expect(res.stdout + res.stderr).not.toContain(ADMIN_PASSWORD);
    const user = await userFromStore('root@example.com');
    expect(user).toMatchObject({ roles: ['admin'], name: 'Root', emailVerified: true });
    expect(user!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('reads the password from stdin when the variable is unset', async () => {
    const res = await run(['users', 'create-admin', '--email', 'stdin-admin@example.com'], { cwd, input: `${STDIN_PASSWORD}\n` });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout + res.stderr).not.toContain(STDIN_PASSWORD);
    expect((await userFromStore('stdin-admin@example.com'))?.roles).toEqual(['admin']);
  });

  it('never takes the password as an argument', async () => {
    const res = await run(['users', 'create-admin', '--email', 'argv@example.com', '--password', 'a password in argv'], { cwd });
    expect(res.code).not.toBe(0);
    expect(await userFromStore('argv@example.com')).toBeNull();
  });

  it('applies the password policy, and needs --email', async () => {
    const weak = await run(['users', 'create-admin', '--email', 'weak@example.com'], { cwd, env: { LATCHKEY_ADMIN_PASSWORD: 'password' } });
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/common/);
    const short = await run(['users', 'create-admin', '--email', 'weak@example.com'], { cwd, input: 'short\n' });
    expect(short.code).not.toBe(0);
    expect(await userFromStore('weak@example.com')).toBeNull();
    const noEmail = await run(['users', 'create-admin'], { cwd, env: { LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    expect(noEmail.code).not.toBe(0);
    expect(noEmail.stderr).toContain('--email');
    const badEmail = await run(['users', 'create-admin', '--email', 'not-an-email'], { cwd, env: { LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    expect(badEmail.code).not.toBe(0);
    expect(badEmail.stderr).toContain('not an email address');
    expect(await userFromStore('not-an-email')).toBeNull();
  });

  it('the admins log in on the served API, with the admin role in /auth/me', async () => {
    const port = await freePort();
    const server = await startCommand(process.execPath, [CLI, 'serve'], {
      cwd,
      env: { PORT: String(port), RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn' },
      port,
    });
    try {
      for (const [email, password] of [
        ['root@example.com', ADMIN_PASSWORD],
        ['stdin-admin@example.com', STDIN_PASSWORD],
      ] as const) {
        const res = await login(server.url, email, password);
        expect(res.status, res.body).toBe(200);
        const access = res.json<{ access_token: string }>().access_token;
        const me = await http(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${access}` } });
        expect(me.json()).toMatchObject({ user: { email, roles: ['admin'] } });
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('serving', () => {
  it('`latchkey serve` honours PORT, HOST and DATABASE_URL and answers /health/ready', async () => {
    const cwd = cwdFor('serve');
    const port = await freePort();
    // The directory must exist (test/startup-errors.test.ts): only ./data is made when missing.
    mkdirSync(join(cwd, 'elsewhere', 'nested'), { recursive: true });
    const dbPath = join(cwd, 'elsewhere', 'nested', 'custom.db');
    const server = await startCommand(process.execPath, [CLI, 'serve'], {
      cwd,
      env: { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `sqlite:${dbPath}` },
      port,
    });
    try {
      expect((await http(`${server.url}/health/ready`)).json()).toEqual({ status: 'ok', database: 'sqlite' });
      expect(existsSync(dbPath)).toBe(true);
      expect(existsSync(join(cwd, 'data'))).toBe(false);
      expect(server.output()).toContain(`Server listening at http://127.0.0.1:${port}`);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('reads PORT from ./.env, the environment winning over it', async () => {
    const cwd = cwdFor('serve-dotenv');
    const [filePort, envPort] = [await freePort(), await freePort()];
    writeFileSync(join(cwd, '.env'), `PORT=${filePort}\nDATABASE_URL=sqlite:./from-dotenv.db\n`);
    const server = await startCommand(process.execPath, [CLI, 'serve'], { cwd, env: { PORT: String(envPort) }, port: envPort });
    try {
      expect(existsSync(join(cwd, 'from-dotenv.db'))).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('`npx latchkey serve` works from the repository root', async () => {
    const data = cwdFor('npx');
    const port = await freePort();
    const server = await startCommand('npx', ['--no-install', 'latchkey', 'serve'], {
      cwd: REPO_ROOT,
      env: { PORT: String(port), DATABASE_URL: `sqlite:${join(data, 'npx.db')}` },
      port,
    });
    try {
      expect((await http(`${server.url}/health/ready`)).status).toBe(200);
      expect(existsSync(join(data, 'npx.db'))).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('`npm start` from the repository root honours PORT and DATABASE_URL', async () => {
    const data = cwdFor('npm-start');
    const port = await freePort();
    const server = await startCommand('npm', ['start', '--silent'], {
      cwd: REPO_ROOT,
      env: { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `sqlite:${join(data, 'start.db')}` },
      port,
    });
    try {
      expect((await http(`${server.url}/health/ready`)).status).toBe(200);
      expect(existsSync(join(data, 'start.db'))).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
