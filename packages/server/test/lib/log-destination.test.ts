/**
 * Log lines are batched per event-loop turn (lib/log-destination.ts) and request.log is built
 * lazily (lib/lazy-request-logger.ts): no line may be lost, reordered or changed by either.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LazyRequestLogger } from '../../src/lib/lazy-request-logger.js';
import { TurnBatchedDestination, type LogTarget } from '../../src/lib/log-destination.js';
import { createTestApp, registerAndLogin, bearer } from '../support/helpers.js';

function recordingTarget(): LogTarget & { writes: string[]; syncFlushes: number } {
  const target = {
    writes: [] as string[],
    syncFlushes: 0,
    write(chunk: string) {
      target.writes.push(chunk);
      return true;
    },
    flushSync() {
      target.syncFlushes++;
    },
  };
  return target;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnBatchedDestination', () => {
  it('hands the lines of one turn to the stream as one write, in order, at the end of the turn', async () => {
    const target = recordingTarget();
    const dest = new TurnBatchedDestination(target);
    dest.write('a\n');
    dest.write('b\n');
    dest.write('c\n');
    expect(target.writes).toEqual([]);
    await nextTurn();
    expect(target.writes).toEqual(['a\nb\nc\n']);
    dest.write('d\n');
    await nextTurn();
    expect(target.writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('flushSync writes what is pending at once', () => {
    const target = recordingTarget();
    const dest = new TurnBatchedDestination(target);
    dest.write('a\n');
    dest.write('b\n');
    dest.flushSync();
    expect(target.writes).toEqual(['a\nb\n']);
    expect(target.syncFlushes).toBe(1);
  });

  it.each([
    ['process.exit()', 'process.exit(0)'],
    ['a fatal exception', "throw new Error('boom')"],
  ])('the stdout destination loses no line at %s', async (_name, ending) => {
    const module = fileURLToPath(new URL('../../dist/lib/log-destination.js', import.meta.url));
    const script = `
      import { pino } from 'pino';
      import { stdoutLogDestination } from ${JSON.stringify(module)};
      const log = pino({ base: null }, stdoutLogDestination());
      for (let i = 0; i < 5000; i++) log.info({ i }, 'line');
      ${ending};
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.resume();
    await once(child, 'exit');
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { i: number });
    expect(lines).toHaveLength(5000);
    expect(lines.every((l, n) => l.i === n)).toBe(true);
  });
});

describe('LazyRequestLogger', () => {
  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    const root = pino({ level: 'info', base: null, timestamp: false }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    return { lines, root };
  }

  it('writes through a child with the bindings, built only when a line is logged', () => {
    const { lines, root } = capture();
    let children = 0;
    const counting = Object.assign(Object.create(root) as typeof root, {
      child: (b: object, o?: object) => {
        children++;
        return root.child(b, o);
      },
    });
    const log = new LazyRequestLogger(counting, { reqId: 'r1' }, {});
    log.debug('dropped: below the level');
    expect(children).toBe(0);
    expect(log.level).toBe('info');
    log.info({ a: 1 }, 'hello');
    log.warn('again');
    expect(children).toBe(1);
    expect(lines).toEqual([
      { level: 30, reqId: 'r1', a: 1, msg: 'hello' },
      { level: 40, reqId: 'r1', msg: 'again' },
    ]);
    log.child({ sub: 2 }).error('deeper');
    expect(lines[2]).toEqual({ level: 50, reqId: 'r1', sub: 2, msg: 'deeper' });
  });

  it('honours a route log level', () => {
    const { lines, root } = capture();
    const log = new LazyRequestLogger(root, { reqId: 'r2' }, { level: 'debug' });
    expect(log.level).toBe('debug');
    log.debug('kept');
    expect(lines).toEqual([{ level: 20, reqId: 'r2', msg: 'kept' }]);
  });

  it('the access line of a request is the line request.log would have written, with its reqId', async () => {
    const t = await createTestApp();
    try {
      const u = await registerAndLogin(t.app);
      t.logs.length = 0;
      const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { ...bearer(u.access) } });
      expect(res.statusCode).toBe(200);
      const access = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
      expect(access).toHaveLength(1);
      expect(access[0]).toMatchObject({ level: 30, method: 'GET', path: '/auth/me', status: 200 });
      expect(typeof access[0]!.reqId).toBe('string');
      expect(Object.keys(access[0]!).slice(0, 6)).toEqual(['level', 'time', 'pid', 'hostname', 'reqId', 'method']);
    } finally {
      await t.close();
    }
  });
});
