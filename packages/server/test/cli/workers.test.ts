/**
 * `latchkey serve --workers N` (node:cluster) on both adapters, as a real process: requests are
 * answered by more than one worker, a token issued by one worker works on the others, a killed
 * worker is replaced, SIGTERM stops every worker and the primary exits 0, and the first signing
 * key is created once (by the primary, before forking) rather than raced by the workers.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { counterBackend, type ClusterMode } from '../../src/features/ratelimit/backend.js';
import { parseWorkers } from '../../src/serve-cluster.js';
import { tempDir } from '../support/helpers.js';
import { CLI, SERVER_DIR, http, pidAlive, startServer, type ServerProcess } from '../support/latchkey-process.js';
import { createTestDatabase } from '../support/postgres.js';

const PASSWORD = 'correct horse battery staple';

function workerOf(res: { headers: Record<string, string | string[] | undefined> }): string {
  const pid = res.headers['x-latchkey-worker'];
  if (typeof pid !== 'string') throw new Error('response without x-latchkey-worker');
  return pid;
}

/** Sends requests (each on its own connection) until `want` distinct workers have answered; bounded. */
async function collectWorkers(url: string, want: number, exclude: Set<string> = new Set()): Promise<Set<string>> {
  const seen = new Set<string>();
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < 3000 && Date.now() < deadline; i++) {
    // A connection handed to a worker at the instant it is killed is lost with it (as in any
    // crash): a short timeout lets the loop go on, as a client's retry would.
    const res = await http(`${url}/health/live`, { timeoutMs: 2000 }).catch(() => null);
    if (res?.status === 200) {
      const pid = workerOf(res);
      if (!exclude.has(pid)) seen.add(pid);
      if (seen.size >= want) break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return seen;
}

type Adapter = { name: 'sqlite' | 'postgres'; databaseUrl: () => Promise<string>; countKeys: (url: string) => Promise<number> };

const { dir, cleanup } = tempDir('latchkey-workers-');
afterAll(cleanup);

const adapters: Adapter[] = [
  {
    name: 'sqlite',
    databaseUrl: async () => `sqlite:${join(dir, 'workers.db')}`,
    countKeys: async (url) => {
      const db = new Database(url.slice('sqlite:'.length), { readonly: true });
      try {
        return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM signing_keys').get()!.n;
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'postgres',
    databaseUrl: () => createTestDatabase('latchkey_workers'),
    countKeys: async (url) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys')).rows[0]!.n;
      } finally {
        await client.end();
      }
    },
  },
];

describe.each(adapters)('latchkey serve --workers 2 on $name', (adapter) => {
  let server: ServerProcess;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await adapter.databaseUrl();
    server = await startServer({ DATABASE_URL: databaseUrl, ISSUER: 'http://latchkey.test' }, { args: ['serve', '--workers', '2'], cwd: dir });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves from two workers that share the database and the signing key', async () => {
    const workers = await collectWorkers(server.url, 2);
    expect(workers.size).toBe(2);
    expect(workers.has(String(server.child.pid))).toBe(false);
    // Created once by the primary before forking: the workers found it and made none of their own.
    expect(await adapter.countKeys(databaseUrl)).toBe(1);

    const email = `workers-${adapter.name}@example.com`;
    expect((await http(`${server.url}/auth/register`, { json: { email, password: PASSWORD } })).status).toBe(201);
    const login = await http(`${server.url}/auth/login`, { json: { email, password: PASSWORD } });
    expect(login.status, login.body).toBe(200);
    const access = login.json<{ access_token: string }>().access_token;
    const answeredBy = new Set<string>();
    for (let i = 0; i < 40 && answeredBy.size < 2; i++) {
      const me = await http(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${access}` } });
      expect(me.status, me.body).toBe(200);
      answeredBy.add(workerOf(me));
    }
    expect(answeredBy.size).toBe(2);
  });

  it('replaces a worker that dies', async () => {
    const before = await collectWorkers(server.url, 2);
    const victim = [...before][0]!;
    process.kill(Number(victim), 'SIGKILL');
    const replacement = await collectWorkers(server.url, 1, new Set(before));
    expect(replacement.size, server.output()).toBe(1);
    expect(replacement.has(victim)).toBe(false);
    expect(server.alive()).toBe(true);
    const after = await collectWorkers(server.url, 2);
    expect(after.size).toBe(2);
    expect(after.has(victim)).toBe(false);
  });

  it('SIGTERM stops every worker and the primary exits 0', async () => {
    const workers = await collectWorkers(server.url, 2);
    expect(await server.stop()).toBe(0);
    for (const pid of workers) expect(pidAlive(Number(pid))).toBe(false);
  });
});

describe('--workers', () => {
  it('default 1: no worker header, no cluster', async () => {
    const server = await startServer({ DATABASE_URL: `sqlite:${join(dir, 'single.db')}`, ISSUER: 'http://latchkey.test' }, { cwd: dir });
    try {
      const res = await http(`${server.url}/health/live`);
      expect(res.status).toBe(200);
      expect(res.headers['x-latchkey-worker']).toBeUndefined();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('parses N and auto (one worker per core); the default is 1', () => {
    expect(parseWorkers(undefined)).toBe(1);
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers('auto')).toBe(availableParallelism());
    expect(parseWorkers(' AUTO ')).toBe(availableParallelism());
    for (const bad of ['0', '-1', '1.5', '257', 'many', '']) expect(() => parseWorkers(bad)).toThrow(/--workers/);
  });

  it('rejects a bad value with a message naming the option', () => {
    for (const bad of ['0', 'many']) {
      const run = spawnSync(process.execPath, [CLI, 'serve', '--workers', bad], {
        env: { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'bad.db')}`, PORT: '0' },
        encoding: 'utf8',
        cwd: dir,
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/--workers/);
    }
  });
});

/**
 * With several workers every limit counts once for the whole server, not once per worker: on
 * SQLite the primary holds the counters (RATE_LIMIT_STORE=auto or memory) and the workers count
 * against them over IPC; RATE_LIMIT_STORE=database counts in the shared file; PostgreSQL counts in
 * the database as before (the login backoff exactly).
 */
describe.each(adapters)('serve --workers 2 keeps the limits on $name', (adapter) => {
  const wrongLogin = (url: string, email: string) => http(`${url}/auth/login`, { json: { email, password: 'not the password' } });
  /** The worker that answered, when the answer names one (a 429 from the limiter does not). */
  const workerIfNamed = (r: { headers: Record<string, string | string[] | undefined> }) => r.headers['x-latchkey-worker'];

  const sqliteStores = adapter.name === 'sqlite' ? ['auto', 'database'] : [];
  it.each(sqliteStores)('RATE_LIMIT_STORE=%s: a login limit of 4 lets exactly 4 through across both workers, also after a worker restarts', async (store) => {
    const server = await startServer(
      {
        DATABASE_URL: await adapter.databaseUrl(),
        ISSUER: 'http://latchkey.test',
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_STORE: store,
        RATE_LIMIT_LOGIN: '4/1m',
        LOGIN_BACKOFF_THRESHOLD: '1000',
      },
      { args: ['serve', '--workers', '2'], cwd: dir },
    );
    try {
      const workers = await collectWorkers(server.url, 2);
      expect(workers.size).toBe(2);
      const email = `limit-${store}-${Date.now()}@example.com`;
      const results = [];
      for (let i = 0; i < 12; i++) results.push(await wrongLogin(server.url, email));
      const passed = results.filter((r) => r.status !== 429);
      expect(passed.map((r) => r.status)).toEqual([400, 400, 400, 400]);
      // Both workers let some through: the limit was shared, not reached by one worker alone.
      expect(new Set(passed.map(workerIfNamed)).size).toBe(2);

      // A replaced worker starts from the shared count, not from zero.
      process.kill(Number([...workers][0]), 'SIGKILL');
      expect((await collectWorkers(server.url, 2, new Set([[...workers][0]!]))).size).toBe(2);
      const later = [];
      for (let i = 0; i < 6; i++) later.push((await wrongLogin(server.url, email)).status);
      expect(later).toEqual(Array(6).fill(429));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('the login backoff locks the (account, IP) pair on every worker', async () => {
    const server = await startServer(
      {
        DATABASE_URL: await adapter.databaseUrl(),
        ISSUER: 'http://latchkey.test',
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_LOGIN: '1000/1m',
        RATE_LIMIT_REGISTER: '1000/1m',
        LOGIN_BACKOFF_THRESHOLD: '3',
        LOGIN_BACKOFF_BASE: '60s',
      },
      { args: ['serve', '--workers', '2'], cwd: dir },
    );
    try {
      expect((await collectWorkers(server.url, 2)).size).toBe(2);
      const email = `backoff-${adapter.name}-${Date.now()}@example.com`;
      expect((await http(`${server.url}/auth/register`, { json: { email, password: PASSWORD } })).status).toBe(201);
      const failed = [];
      for (let i = 0; i < 3; i++) failed.push(await wrongLogin(server.url, email));
      // The third engages the lock and is answered 429 already.
      expect(failed.map((r) => r.status)).toEqual([400, 400, 429]);
      // Three failures in all, spread over the workers: every worker now refuses the pair.
      const after = [];
      for (let i = 0; i < 6; i++) after.push(await http(`${server.url}/auth/login`, { json: { email, password: PASSWORD } }));
      expect(new Set(after.map(workerOf)).size).toBe(2);
      expect(after.map((r) => r.status)).toEqual(Array(6).fill(429));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('where the counters live with several processes', () => {
  const base = { DATABASE_URL: 'sqlite:./x.db', RATE_LIMIT_ENABLED: 'true' };
  const backend = (env: Record<string, string>, store: 'sqlite' | 'postgres', mode: ClusterMode) => counterBackend(loadConfig({ ...base, ...env }).rateLimit, store, mode);

  it('memory is the primary\'s under serve --workers; the database under another cluster; Redis and the database as asked', () => {
    expect(backend({}, 'sqlite', 'none')).toBe('memory');
    expect(backend({}, 'sqlite', 'latchkey')).toBe('primary');
    expect(backend({ RATE_LIMIT_STORE: 'memory' }, 'sqlite', 'latchkey')).toBe('primary');
    expect(backend({}, 'sqlite', 'foreign')).toBe('database');
    expect(backend({}, 'postgres', 'latchkey')).toBe('database');
    expect(backend({}, 'postgres', 'none')).toBe('database');
    expect(backend({ RATE_LIMIT_STORE: 'database' }, 'sqlite', 'latchkey')).toBe('database');
    expect(backend({ REDIS_URL: 'redis://127.0.0.1:6379' }, 'sqlite', 'latchkey')).toBe('redis');
  });

  it('refuses RATE_LIMIT_STORE=memory in a worker of a cluster without Latchkey\'s primary (unless limits are off)', () => {
    let err: unknown;
    try {
      backend({ RATE_LIMIT_STORE: 'memory' }, 'sqlite', 'foreign');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('RATE_LIMIT_STORE');
    expect(backend({ RATE_LIMIT_STORE: 'memory', RATE_LIMIT_ENABLED: 'false' }, 'sqlite', 'foreign')).toBe('memory');
  });

  it('a worker whose primary does not answer gets an error after the timeout, never a hung call', async () => {
    // A real IPC channel: this child's parent (the test) never answers its counter calls.
    const module = join(SERVER_DIR, 'dist', 'features', 'ratelimit', 'primary-counters.js');
    const script = `
      const { PrimaryCounters } = await import(${JSON.stringify(module)});
      const counters = new PrimaryCounters(process, 300);
      const outcome = await counters.hit('k', 60000).then(() => 'answered', (err) => 'rejected: ' + err.message);
      await counters.close();
      process.stdout.write(outcome);
      process.disconnect();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const calls: unknown[] = [];
    child.on('message', (m) => calls.push(m));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    expect(calls).toEqual([{ latchkeyCounters: [[1, 0, 'k', 60000]] }]);
    expect(out).toMatch(/^rejected: the primary did not answer/);
  });
});
