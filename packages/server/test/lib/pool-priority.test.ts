import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { threadPoolSize } from '../../src/lib/pool-priority.js';
import { http, requireBuild, SERVER_DIR, startServer, type ServerProcess } from '../support/latchkey-process.js';
import { niceByThread } from '../support/threads.js';

// `latchkey serve` runs libuv's pool (signatures, file system calls) below the event loop's CPU
// priority: THREAD_POOL_NICE, default 10 (docs/benchmarks.md, scenario (c)).

const count = (m: Map<number, number>, nice: number) => [...m.values()].filter((n) => n === nice).length;

describe('threadPoolSize reads UV_THREADPOOL_SIZE as libuv does', () => {
  it.each([
    [undefined, 4],
    ['6', 6],
    ['1', 1],
    ['0', 1],
    ['abc', 1],
    ['8 threads', 8],
    ['5000', 1024],
    ['-3', 1024],
  ])('%s -> %i', (value, expected) => {
    expect(threadPoolSize(value === undefined ? {} : { UV_THREADPOOL_SIZE: value })).toBe(expected);
  });
});

describe.runIf(process.platform === 'linux')('thread pool priority', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('lowers exactly the pool threads: work on the pool then runs at that nice, the event loop keeps 0', () => {
    requireBuild();
    // In a child process, so that this test runner keeps its own priorities.
    const script = `
      const { readFile } = await import('node:fs/promises');
      const { readFileSync } = await import('node:fs');
      const { lowerThreadPoolPriority } = await import(${JSON.stringify(`${SERVER_DIR}/dist/lib/pool-priority.js`)});
      const nice = (stat) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      const tids = await lowerThreadPoolPriority(7);
      const onPool = await Promise.all(Array.from({ length: 40 }, () => readFile('/proc/thread-self/stat', 'latin1')));
      console.log(JSON.stringify({
        tids,
        poolNice: [...new Set(onPool.map(nice))],
        poolTids: [...new Set(onPool.map((s) => Number(s.split(' ')[0])))],
        mainNice: nice(readFileSync('/proc/thread-self/stat', 'latin1')),
      }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '3' },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    const r = JSON.parse(run.stdout) as { tids: number[]; poolNice: number[]; poolTids: number[]; mainNice: number };
    expect(r.tids).toHaveLength(3);
    expect(r.poolNice).toEqual([7]);
    for (const tid of r.poolTids) expect(r.tids).toContain(tid);
    expect(r.mainNice).toBe(0);
  });

  it('serve lowers the pool to THREAD_POOL_NICE (default 10) and logs it; the main thread keeps 0', async () => {
    server = await startServer({ DATABASE_URL: 'sqlite::memory:', UV_THREADPOOL_SIZE: '6', LOG_LEVEL: 'info' });
    const pid = server.child.pid!;
    const nice = niceByThread(pid);
    expect(count(nice, 10)).toBe(6);
    expect(nice.get(pid)).toBe(0);
    expect(server.output()).toMatch(/"threads":6,"nice":10,"ms":\d+,"msg":"thread pool priority lowered"/);
    // The server still signs tokens (on the lowered pool) and answers.
    const reg = await http(`${server.url}/auth/register`, { json: { email: 'pool@example.com', password: 'a long enough passphrase' } });
    expect(reg.status).toBe(201);
    const login = await http(`${server.url}/auth/login`, { json: { email: 'pool@example.com', password: 'a long enough passphrase' } });
    expect(login.status).toBe(200);
    expect(login.json<{ access_token: string }>().access_token.split('.')).toHaveLength(3);
  });

  it('THREAD_POOL_NICE=0 leaves every thread at its priority', async () => {
    server = await startServer({ DATABASE_URL: 'sqlite::memory:', THREAD_POOL_NICE: '0', LOG_LEVEL: 'info' });
    const nice = niceByThread(server.child.pid!);
    expect([...nice.values()].every((n) => n === 0)).toBe(true);
    expect(server.output()).not.toContain('thread pool priority lowered');
  });
});
