/**
 * `latchkey doctor` lists every problem at once (not only the first bad setting), names the
 * SQLite file, creates nothing, and warns when a proxy is in front without TRUST_PROXY; the
 * server says so once in its log at the first forwarded request.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServer } from '../support/server-process.js';
import { createTestApp, tempDir, type TestApp } from '../support/helpers.js';

/** A clean environment: the runner's own variables must not change what doctor sees. */
function env(vars: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...vars };
}

const dir = tempDir('latchkey-doctor-all-');
afterAll(() => dir.cleanup());

function caseDir(name: string): string {
  const d = join(dir.dir, name);
  mkdirSync(d);
  return d;
}

describe('latchkey doctor lists every problem', () => {
  it('three bad settings: three failures, each naming its variable, and the database is still checked', async () => {
    const cwd = caseDir('three');
    const r = await runCli(['doctor'], env({ PORT: 'eighty', JWT_ALG: 'none', SMTP_URL: 'http://mail.example.com', ISSUER: 'http://localhost:3000' }), cwd);
    expect(r.code).toBe(1);
    const fails = r.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(fails).toEqual([
      expect.stringMatching(/^FAIL config: PORT: /),
      expect.stringMatching(/^FAIL config: JWT_ALG: /),
      expect.stringMatching(/^FAIL config: SMTP_URL: /),
    ]);
    // The default database is named; it does not exist yet, and doctor does not create it.
    expect(r.stdout).toContain(`WARN database: sqlite ${join(cwd, 'data', 'latchkey.db')} does not exist yet`);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    expect(r.stdout).toMatch(/3 problem\(s\), \d+ warning\(s\)$/m);
  });

  it('a bad setting and a database directory that does not exist: both', async () => {
    const cwd = caseDir('both');
    const r = await runCli(['doctor'], env({ ACCESS_TOKEN_TTL: 'forever', DATABASE_URL: 'sqlite:./missing/latchkey.db', MAIL_OUTBOX_DIR: './mail' }), cwd);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL config: ACCESS_TOKEN_TTL: ');
    expect(r.stdout).toContain(`FAIL database: sqlite ${join(cwd, 'missing', 'latchkey.db')}: the directory ${join(cwd, 'missing')} does not exist`);
    expect(r.stdout).toContain(`fix: create it (mkdir -p -m 700 ${join(cwd, 'missing')})`);
    // The mail checks still run, and create no outbox either.
    expect(r.stdout).toContain(`WARN mail: no SMTP_URL: mail is written to ${join(cwd, 'mail')}`);
    expect(existsSync(join(cwd, 'mail'))).toBe(false);
    expect(existsSync(join(cwd, 'missing'))).toBe(false);
  });

  it('checks MAIL_TEMPLATES_DIR as start-up does: a broken file is a failure naming it; a good one lists the languages', async () => {
    const cwd = caseDir('templates');
    mkdirSync(join(cwd, 'mail', 'de'), { recursive: true });
    writeFileSync(join(cwd, 'mail', 'de', 'invite.text.txt'), 'Hallo {{name}}, kein Link.');
    const broken = await runCli(['doctor'], env({ MAIL_TEMPLATES_DIR: './mail', MAIL_OUTBOX_DIR: './outbox' }), cwd);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`FAIL mail templates: MAIL_TEMPLATES_DIR: ${join(cwd, 'mail', 'de', 'invite.text.txt')}: the text part must use {{link}}`);
    writeFileSync(join(cwd, 'mail', 'de', 'invite.text.txt'), 'Hallo {{name}}: {{link}}');
    const good = await runCli(['doctor'], env({ MAIL_TEMPLATES_DIR: './mail', MAIL_OUTBOX_DIR: './outbox', DEFAULT_LOCALE: 'de-AT' }), cwd);
    expect(good.stdout).toContain(`ok   mail templates: languages de, en (built-in and ${join(cwd, 'mail')}); default de`);
  });

  it('names the SQLite file it checked', async () => {
    const cwd = caseDir('named');
    const s = await startServer({ DATABASE_URL: 'sqlite:./data/latchkey.db', MAIL_OUTBOX_DIR: './outbox' }, { cwd });
    await s.stop();
    const r = await runCli(['doctor'], env({ MAIL_OUTBOX_DIR: './outbox' }), cwd);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`ok   database: sqlite ${join(cwd, 'data', 'latchkey.db')} reachable`);
  });
});

describe('a proxy in front without TRUST_PROXY', () => {
  it('doctor warns when ISSUER is not where Latchkey listens, and not otherwise', async () => {
    const cwd = caseDir('proxy');
    const behind = await runCli(['doctor'], env({ ISSUER: 'https://auth.example.com' }), cwd);
    expect(behind.stdout).toContain('WARN config.proxy: ISSUER https://auth.example.com is not where Latchkey listens (plain http, port 3000)');
    expect(behind.stdout).toContain('share one rate-limit budget');
    expect(behind.stdout).toContain('fix: set TRUST_PROXY');
    const otherPort = await runCli(['doctor'], env({ ISSUER: 'http://localhost:8080' }), cwd);
    expect(otherPort.stdout).toContain('WARN config.proxy');
    const trusted = await runCli(['doctor'], env({ ISSUER: 'https://auth.example.com', TRUST_PROXY: 'loopback' }), cwd);
    expect(trusted.stdout).not.toContain('config.proxy');
    const direct = await runCli(['doctor'], env({}), cwd);
    expect(direct.stdout).not.toContain('config.proxy');
  });

  describe('the server', () => {
    let t: TestApp;
    let trusted: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
      trusted = await createTestApp({ TRUST_PROXY: '127.0.0.1' });
    });
    afterAll(async () => {
      await t.close();
      await trusted.close();
    });

    const warnings = (app: TestApp) =>
      app.logs.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40 && l.msg.includes('TRUST_PROXY is not set'));

    it('warns once, at the first request with X-Forwarded-For or Forwarded, when TRUST_PROXY is unset', async () => {
      await t.app.inject({ method: 'GET', url: '/health/live' });
      expect(warnings(t)).toHaveLength(0);
      await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-for': '203.0.113.9' } });
      await t.app.inject({ method: 'GET', url: '/health/live', headers: { forwarded: 'for=203.0.113.10' } });
      await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-for': '203.0.113.11' } });
      expect(warnings(t)).toHaveLength(1);
      expect(warnings(t)[0]!.msg).toContain('shares one rate-limit budget');
    });

    it('says nothing when TRUST_PROXY is set', async () => {
      await trusted.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(warnings(trusted)).toHaveLength(0);
    });
  });
});
