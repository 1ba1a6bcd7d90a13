/**
 * Without SMTP_URL every message is written as an .eml file into MAIL_OUTBOX_DIR (parsed here
 * with mailparser and followed through the API), and the log names the file, never the link.
 * Also: REQUIRE_VERIFIED_EMAIL at login, the mail settings, and the OpenAPI description.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { createTestApp, type TestApp } from '../../support/helpers.js';
import { tokenFromText } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';

interface OutboxFile {
  path: string;
  mail: ParsedMail;
}

async function outbox(t: TestApp): Promise<OutboxFile[]> {
  await t.app.latchkey.mail.idle();
  const dir = join(t.dir, 'outbox');
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.eml'))
      .sort();
  } catch {
    return [];
  }
  return Promise.all(names.map(async (name) => ({ path: join(dir, name), mail: await simpleParser(readFileSync(join(dir, name))) })));
}

async function filesTo(t: TestApp, address: string): Promise<OutboxFile[]> {
  return (await outbox(t)).filter((f) => f.mail.to !== undefined && !Array.isArray(f.mail.to) && f.mail.to.value[0]?.address === address);
}

function login(t: TestApp, email: string, password = PASSWORD) {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
}

describe('outbox mode (no SMTP_URL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('says so at start-up', () => {
    const warn = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('SMTP_URL is not set'));
    expect(warn).toMatchObject({ level: 40, outbox: `outbox ${join(t.dir, 'outbox')}` });
  });

  it('writes each message to a private .eml file, logs recipient, subject and file but not the link, and the link works', async () => {
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'olive@example.com', password: PASSWORD } });
    expect(reg.statusCode).toBe(201);
    const [file] = await filesTo(t, 'olive@example.com');
    expect(file).toBeDefined();
    expect(file!.path).toMatch(/\.eml$/);
    expect(statSync(file!.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.dir, 'outbox')).mode & 0o777).toBe(0o700);
    expect(file!.mail.subject).toBe('Confirm your email address for Latchkey');
    expect(file!.mail.from?.value[0]).toMatchObject({ name: 'Latchkey', address: 'no-reply@latchkey.test' });
    expect(file!.mail.html).toBeTruthy();
    const { token, link } = tokenFromText(file!.mail.text ?? '', 'verify-email');
    expect(link.startsWith('http://latchkey.test/verify-email?token=')).toBe(true);
    // Beside it, the message readable as written: headers and the text part, the link whole.
    const txt = file!.path.replace(/\.eml$/, '.txt');
    expect(statSync(txt).mode & 0o777).toBe(0o600);
    const readable = readFileSync(txt, 'utf8');
    expect(readable.startsWith('From: "Latchkey" <no-reply@latchkey.test>\nTo: olive@example.com\nSubject: Confirm your email address for Latchkey\n\n')).toBe(true);
    expect(readable).toContain(link);
    expect(readable.endsWith(`${file!.mail.text!.trimEnd()}\n`)).toBe(true);

    const line = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'mail written to the outbox (no SMTP_URL)');
    expect(line).toMatchObject({ level: 30, to: 'olive@example.com', subject: 'Confirm your email address for Latchkey', file: file!.path });

    expect((await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } })).statusCode).toBe(200);

    expect((await t.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: 'olive@example.com' } })).statusCode).toBe(202);
    const reset = (await filesTo(t, 'olive@example.com')).find((f) => f.mail.subject === 'Reset your Latchkey password');
    const resetToken = tokenFromText(reset!.mail.text ?? '', 'reset-password').token;
    const done = await t.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token: resetToken, new_password: 'outbox passphrase 2' } });
    expect(done.statusCode).toBe(204);
    expect((await login(t, 'olive@example.com', 'outbox passphrase 2')).statusCode).toBe(200);

    const log = t.logs.join('');
    expect(log).not.toContain(token);
    expect(log).not.toContain(resetToken);
  });

  it('describes the four routes in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, { post: { requestBody?: unknown; responses: Record<string, unknown>; security?: unknown } }>;
    };
    expect(Object.keys(doc.paths['/auth/email/verify-request']!.post.responses)).toEqual(expect.arrayContaining(['202', '401', '409', '429']));
    expect(doc.paths['/auth/email/verify-request']!.post.security).toBeDefined();
    expect(doc.paths['/auth/email/verify']!.post.requestBody).toBeDefined();
    expect(Object.keys(doc.paths['/auth/password/forgot']!.post.responses)).toEqual(expect.arrayContaining(['202', '422', '429']));
    expect(Object.keys(doc.paths['/auth/password/reset']!.post.responses)).toEqual(expect.arrayContaining(['204', '400', '422']));
  });
});

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ REQUIRE_VERIFIED_EMAIL: 'true' }, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses login with 403 EMAIL_NOT_VERIFIED (right password only), mails a new link at most once a minute, then lets in', async () => {
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'vera@example.com', password: PASSWORD } });
    expect(reg.statusCode).toBe(201);
    const registered = await filesTo(t, 'vera@example.com');
    expect(registered).toHaveLength(1);
    const first = tokenFromText(registered[0]!.mail.text ?? '', 'verify-email').token;

    const wrong = await login(t, 'vera@example.com', 'not the password at all');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');

    // Right after registering: refused, and the registration mail is not replaced by a second one.
    const refused = await login(t, 'vera@example.com');
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'EMAIL_NOT_VERIFIED', mail_sent: false });
    expect(refused.body).not.toContain('access_token');
    expect(await filesTo(t, 'vera@example.com')).toHaveLength(1);

    // A minute later: refused, with a new link.
    t.clock!.advance(61_000);
    expect((await login(t, 'vera@example.com')).json()).toMatchObject({ code: 'EMAIL_NOT_VERIFIED', mail_sent: true });
    expect(await filesTo(t, 'vera@example.com')).toHaveLength(2);
    // Within the minute: refused again, no third mail.
    expect((await login(t, 'vera@example.com')).statusCode).toBe(403);
    const files = await filesTo(t, 'vera@example.com');
    expect(files).toHaveLength(2);

    const second = files.map((f) => tokenFromText(f.mail.text ?? '', 'verify-email').token).find((token) => token !== first)!;
    // Only the newest link works.
    expect((await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: first } })).json().code).toBe('TOKEN_INVALID');
    expect((await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: second } })).statusCode).toBe(200);
    expect((await login(t, 'vera@example.com')).statusCode).toBe(200);
  });

  it('a password reset also opens the door: it proves the mailbox', async () => {
    await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'rita@example.com', password: PASSWORD } });
    await t.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: 'rita@example.com' } });
    const reset = (await filesTo(t, 'rita@example.com')).find((f) => f.mail.subject === 'Reset your Latchkey password');
    const token = tokenFromText(reset!.mail.text ?? '', 'reset-password').token;
    expect((await t.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: 'rita new passphrase' } })).statusCode).toBe(204);
    expect((await login(t, 'rita@example.com', 'rita new passphrase')).statusCode).toBe(200);
  });
});

describe('mail settings', () => {
  function refused(env: Record<string, string>): ConfigError {
    try {
      loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error(`expected ${JSON.stringify(env)} to be refused`);
  }

  it('defaults: outbox, links to the ISSUER, From derived from PRODUCT_NAME and APP_URL, 24 h / 30 min, 3 attempts', () => {
    const c = loadConfig({ ISSUER: 'https://id.example.com' });
    expect(c.mail.smtpUrl).toBeNull();
    expect(c.mail.appUrl).toBe('https://id.example.com');
    expect(c.mail.mailFrom).toBe('"Latchkey" <no-reply@id.example.com>');
    expect(c.mail.productName).toBe('Latchkey');
    expect(c.mail.requireVerifiedEmail).toBe(false);
    expect(c.mail.mailOutboxDir).toBe('./data/outbox');
    expect(c.mail.verifyEmailTtlMs).toBe(24 * 3_600_000);
    expect(c.mail.resetTokenTtlMs).toBe(30 * 60_000);
    expect(c.mail.mailRetryDelaysMs).toEqual([10_000, 60_000]);
    const custom = loadConfig({ APP_URL: 'https://app.example.com/', PRODUCT_NAME: 'Acme', SMTP_URL: 'smtps://u:p@mail.example.com:465' });
    expect(custom.mail.appUrl).toBe('https://app.example.com');
    expect(custom.mail.mailFrom).toBe('"Acme" <no-reply@app.example.com>');
    expect(custom.mail.smtpUrl).toBe('smtps://u:p@mail.example.com:465');
  });

  it('the default sender is never at an IP address: APP_URL\'s host, else ISSUER\'s, else localhost', () => {
    expect(loadConfig({}).mail.mailFrom).toBe('"Latchkey" <no-reply@localhost>');
    expect(loadConfig({ APP_URL: 'http://127.0.0.1:5173' }).mail.mailFrom).toBe('"Latchkey" <no-reply@localhost>');
    expect(loadConfig({ ISSUER: 'http://192.168.1.20:3000' }).mail.mailFrom).toBe('"Latchkey" <no-reply@localhost>');
    expect(loadConfig({ ISSUER: 'http://[::1]:3000' }).mail.mailFrom).toBe('"Latchkey" <no-reply@localhost>');
    expect(loadConfig({ ISSUER: 'https://id.example.com', APP_URL: 'http://10.0.0.5:8080' }).mail.mailFrom).toBe('"Latchkey" <no-reply@id.example.com>');
  });

  it('refuses bad values, naming the variable and never echoing an SMTP password', () => {
    expect(refused({ SMTP_URL: 'http://mail.example.com' }).variable).toBe('SMTP_URL');
    const noHost = refused({ SMTP_URL: 'smtp://user:hunter2-secret@' });
    expect(noHost.variable).toBe('SMTP_URL');
    expect(noHost.message).not.toContain('hunter2');
    expect(refused({ MAIL_FROM: 'not an address' }).variable).toBe('MAIL_FROM');
    expect(refused({ MAIL_FROM: 'a@b.c\r\nBcc: x@y.z' }).variable).toBe('MAIL_FROM');
    expect(refused({ APP_URL: 'javascript:alert(1)' }).variable).toBe('APP_URL');
    expect(refused({ PRODUCT_NAME: 'Two\nlines' }).variable).toBe('PRODUCT_NAME');
    expect(refused({ REQUIRE_VERIFIED_EMAIL: 'perhaps' }).variable).toBe('REQUIRE_VERIFIED_EMAIL');
    expect(refused({ VERIFY_EMAIL_TTL: '1m' }).variable).toBe('VERIFY_EMAIL_TTL');
    expect(refused({ RESET_TOKEN_TTL: '2d' }).variable).toBe('RESET_TOKEN_TTL');
    expect(refused({ MAIL_RETRY_DELAYS: '1s,soon' }).variable).toBe('MAIL_RETRY_DELAYS');
  });
});
