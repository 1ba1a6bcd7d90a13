/**
 * LOG_FORMAT=pretty formats the JSON lines the logger writes, after redaction: the pretty line
 * shows what the JSON line shows, as `time LEVEL message key=value ...`, secrets masked alike.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { accessLogWriter } from '../../src/lib/access-log.js';
import { PrettyLogDestination, prettyLogLine } from '../../src/lib/log-pretty.js';

function capture(options: { pid?: boolean } = {}) {
  const lines: string[] = [];
  const config = loadConfig({ DATABASE_URL: 'sqlite::memory:', ISSUER: 'http://latchkey.test', LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
  const logger = createLogger(config.http, new PrettyLogDestination({ write: (s: string) => void lines.push(s) }, options));
  return { logger, lines };
}

const TIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`;

describe('pretty log lines', () => {
  it('time, level, message, then the fields; strings with spaces quoted; nested fields dotted', () => {
    const { logger, lines } = capture();
    logger.warn({ userId: 'u1', reason: 'two words', n: 3, ok: true, empty: '', list: [1, 2], db: { host: 'h', port: 5432 } }, 'something happened');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${TIME} WARN  something happened userId=u1 reason="two words" n=3 ok=true empty="" list=\\[1,2\\] db\\.host=h db\\.port=5432\\n$`));
  });

  it('masks the secrets the JSON line masks, wherever they are', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        password: 'top-level-secret',
        body: { email: 'ada@example.com', password: 'hunter2-hunter2', new_password: 'n3w-passphrase' },
        tokens: { refresh_token: 'rt-secret', access_token: 'at-secret' },
        req: { method: 'GET', headers: { authorization: 'Bearer eyJ.secret', cookie: 'lk_refresh=abc', 'user-agent': 'curl' } },
      },
      'careless',
    );
    logger.child({ ctx: { access_token: 'child-secret' } }).info('from child');
    const out = lines.join('');
    for (const secret of ['top-level-secret', 'hunter2', 'n3w-passphrase', 'rt-secret', 'at-secret', 'eyJ.secret', 'lk_refresh=abc', 'child-secret']) {
      expect(out).not.toContain(secret);
    }
    expect(lines[0]).toContain('password=[redacted] body.email=ada@example.com body.password=[redacted] body.new_password=[redacted]');
    expect(lines[0]).toContain('req.headers.authorization=[redacted] req.headers.cookie=[redacted] req.headers.user-agent=curl');
    expect(lines[1]).toMatch(new RegExp(`^${TIME} INFO  from child ctx\\.access_token=\\[redacted\\]\\n$`));
  });

  it('an error: its type and message on the line, its stack indented below', () => {
    const { logger, lines } = capture();
    logger.error({ err: new Error('database unreachable') }, 'request failed');
    const [first, ...stack] = lines[0]!.trimEnd().split('\n');
    expect(first).toMatch(new RegExp(`^${TIME} ERROR request failed err\\.type=Error err\\.message="database unreachable"$`));
    expect(stack[0]).toBe('    Error: database unreachable');
    expect(stack.length).toBeGreaterThan(1);
    for (const l of stack) expect(l).toMatch(/^ {4}/);
  });

  it('the access line, written without pino, comes out readable too; the pid only when asked', () => {
    const plain = capture();
    accessLogWriter(plain.logger)({ reqId: 'r1', method: 'GET', path: '/auth/me', status: 200, ms: 1.2, ip: '127.0.0.1' });
    expect(plain.lines[0]).toMatch(new RegExp(`^${TIME} INFO  request reqId=r1 method=GET path=/auth/me status=200 ms=1\\.2 ip=127\\.0\\.0\\.1\\n$`));
    const workers = capture({ pid: true });
    workers.logger.info('hello');
    expect(workers.lines[0]).toMatch(new RegExp(`^${TIME} INFO  \\[${process.pid}\\] hello\\n$`));
  });

  it('a message with a line break stays on one line; a line that is not JSON passes as it came', () => {
    const { logger, lines } = capture();
    logger.info('two\nlines');
    expect(lines[0]).toMatch(new RegExp(`^${TIME} INFO  "two\\\\nlines"\\n$`));
    expect(prettyLogLine('not json\n')).toBe('not json\n');
  });
});
