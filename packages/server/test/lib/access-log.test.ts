/**
 * The access line is assembled directly (lib/access-log.ts) instead of through pino's generic
 * path: it must be byte for byte the line `log.info(entry, 'request')` writes.
 */
import { multistream } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { accessLogWriter, type AccessEntry } from '../../src/lib/access-log.js';

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
}

const config = (level: string) => loadConfig({ DATABASE_URL: 'sqlite::memory:', ISSUER: 'http://latchkey.test', LOG_LEVEL: level });
const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

const entries: AccessEntry[] = [
  { reqId: '6f1c2b4e-0000-4000-8000-000000000001', method: 'GET', path: '/auth/me', status: 200, ms: 1.2, ip: '127.0.0.1' },
  { reqId: 'r2', method: 'POST', path: '/a"b\\c\u0001\u00e9/\u2028', status: 404, ms: 0, ip: '::ffff:10.0.0.1' },
  { reqId: 'r3', method: 'DELETE', path: '/auth/sessions/x', status: 503, ms: 12345.6, ip: undefined },
];

describe('access log line', () => {
  it('is exactly the line pino writes for log.info(entry, "request")', () => {
    const fast = capture();
    const slow = capture();
    const write = accessLogWriter(createLogger(config('info').http, fast.stream));
    const log = createLogger(config('info').http, slow.stream);
    for (const e of entries) {
      write(e);
      log.info(e, 'request');
    }
    expect(fast.lines).toHaveLength(entries.length);
    expect(fast.lines.map(withoutTime)).toEqual(slow.lines.map(withoutTime));
    for (const line of fast.lines) expect(JSON.parse(line)).toMatchObject({ level: 30, msg: 'request', pid: process.pid });
  });

  it('follows the logger level, also when it changes at run time', () => {
    const out = capture();
    const log = createLogger(config('warn').http, out.stream);
    const write = accessLogWriter(log);
    write(entries[0]!);
    expect(out.lines).toEqual([]);
    log.level = 'info';
    write(entries[0]!);
    expect(out.lines).toHaveLength(1);
  });

  it('goes through pino for a stream that wants its per-line metadata', () => {
    const out = capture();
    const log = createLogger(config('info').http, multistream([{ stream: out.stream, level: 'info' }]));
    accessLogWriter(log)(entries[0]!);
    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ reqId: entries[0]!.reqId, msg: 'request' });
  });
});
