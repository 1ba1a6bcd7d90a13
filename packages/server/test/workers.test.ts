/**
 * `latchkey serve --workers N` (node:cluster) on both adapters, as a real process: requests are
 * answered by more than one worker, a token issued by one worker works on the others, a killed
 * worker is replaced, SIGTERM stops every worker and the primary exits 0, and the first signing
 * key is created once (by the primary, before forking) rather than raced by the workers.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkers } from '../src/serve-cluster.js';
import { tempDir } from './helpers.js';
import { CLI, http, pidAlive, startServer, type ServerProcess } from './support/latchkey-process.js';
import { createTestDatabase } from './support/postgres.js';

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
