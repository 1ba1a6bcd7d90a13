import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, registerAndLogin, type TestApp } from '../support/helpers.js';

// Secrets never reach a log line: the logger masks them wherever a careless log call puts them.

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger(loadConfig({ LOG_LEVEL: 'info', ISSUER: 'http://latchkey.test' }).http, stream);
  const last = () => JSON.parse(lines.at(-1)!) as Record<string, unknown>;
  return { logger, lines, last };
}

describe('log redaction', () => {
  it('masks secret keys one level down, keeps everything else', () => {
    const { logger, last } = capture();
    const body = { email: 'ada@example.com', password: 'hunter2-hunter2', new_password: 'n3w-passphrase', current_password: 'old-passphrase' };
    logger.info({ body, tokens: { refresh_token: 'rt-secret', access_token: 'at-secret' }, user: { passwordHash: '$argon2id$x', password_hash: '$2b$y', id: 'u1' }, status: 200 }, 'hello');
    const line = last();
    expect(line.body).toEqual({ email: 'ada@example.com', password: '[redacted]', new_password: '[redacted]', current_password: '[redacted]' });
    expect(line.tokens).toEqual({ refresh_token: '[redacted]', access_token: '[redacted]' });
    expect(line.user).toEqual({ passwordHash: '[redacted]', password_hash: '[redacted]', id: 'u1' });
    expect(line.status).toBe(200);
    expect(line.msg).toBe('hello');
    // The caller's objects are left alone.
    expect(body.password).toBe('hunter2-hunter2');
  });

  it('masks a secret at the top level too', () => {
    const { logger, lines } = capture();
    logger.info({ password: 'hunter2-hunter2', refresh_token: 'rt-secret' }, 'top');
    expect(lines.at(-1)).not.toMatch(/hunter2|rt-secret/);
  });

  it('masks the credential headers of a logged request', () => {
    const { logger, last } = capture();
    logger.info({ req: { method: 'GET', headers: { authorization: 'Bearer eyJ.secret', cookie: 'lk_refresh=abc', 'user-agent': 'curl' } } }, 'req');
    expect(last().req).toEqual({ method: 'GET', headers: { authorization: '[redacted]', cookie: '[redacted]', 'user-agent': 'curl' } });
  });

  it('masks secrets in child-logger bindings', () => {
    const { logger, lines } = capture();
    logger.child({ ctx: { access_token: 'at-secret', id: 'c1' } }).info('from child');
    expect(lines.at(-1)).not.toContain('at-secret');
    expect(JSON.parse(lines.at(-1)!).ctx).toEqual({ access_token: '[redacted]', id: 'c1' });
  });

  it('still logs errors with their message and stack', () => {
    const { logger, last } = capture();
    logger.error({ err: new Error('database unreachable') }, 'failed');
    const err = last().err as { message: string; stack: string };
    expect(err.message).toBe('database unreachable');
    expect(err.stack).toContain('database unreachable');
  });
});

describe('request log lines of a real login', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('contain no password, hash or token', async () => {
    const { password, access, refresh } = await registerAndLogin(t.app, 'logs@example.com', 'a long enough passphrase 42');
    await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${access}` } });
    const all = t.logs.join('');
    expect(all).toContain('"path":"/auth/login"');
    for (const secret of [password, access, refresh, '$argon2id$']) expect(all).not.toContain(secret);
  });
});
