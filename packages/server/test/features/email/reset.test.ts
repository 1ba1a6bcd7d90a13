/**
 * Password reset over a real SMTP exchange. Here the app is given its mailer (a real nodemailer
 * SMTP transport to a real smtp-server on 127.0.0.1) the way an embedding app would.
 */
import type { FastifyInstance } from 'fastify';
import nodemailer from 'nodemailer';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { SmtpMailer } from '../../../src/features/email/mailer.js';
import { bearer, tempDir, testClock } from '../../support/helpers.js';
import { startSmtp, tokenFromText, waitFor, type ReceivedMail, type TestSmtp } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase 42';

let smtp: TestSmtp;
let app: FastifyInstance;
const logs: string[] = [];
const clock = testClock();
const temp = tempDir();
const mailedTokens: string[] = [];

function mailTo(address: string, nth = 1): () => ReceivedMail | undefined {
  return () => smtp.received.filter((m) => m.envelopeTo.includes(address))[nth - 1];
}

function resetLink(mail: ReceivedMail) {
  const found = tokenFromText(mail.parsed.text ?? '', 'reset-password');
  mailedTokens.push(found.token);
  return found;
}

async function register(email: string) {
  const res = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  expect(res.statusCode).toBe(201);
  // Set the verification mail aside: these tests count reset mails only.
  await waitFor('the verification mail', mailTo(email));
  return res.json().user as { id: string };
}

async function login(email: string, password = PASSWORD) {
  return app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
}

function forgot(email: string) {
  return app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email } });
}

function reset(token: string, newPassword = NEW_PASSWORD) {
  return app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: newPassword } });
}

function resetMails(address: string): ReceivedMail[] {
  return smtp.received.filter((m) => m.envelopeTo.includes(address) && /^Reset your/.test(m.parsed.subject ?? ''));
}

beforeAll(async () => {
  smtp = await startSmtp();
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(temp.dir, 'latchkey.db')}`,
    ISSUER: 'http://latchkey.test',
    APP_URL: 'https://app.example.test',
    RATE_LIMIT_ENABLED: 'false',
  });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  app = await buildApp(config, { clock, logStream, mailer: new SmtpMailer(transport, 'Example <no-reply@example.test>') });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await smtp.close();
  temp.cleanup();
});

describe('password reset', () => {
  it('mails a single-use link; the reset sets the password, ends every session and marks the address verified', async () => {
    const user = await register('carol@example.com');
    const phone = (await login('carol@example.com')).json();
    const laptop = (await login('carol@example.com')).json();

    const asked = await forgot('  Carol@Example.com ');
    expect(asked.statusCode).toBe(202);
    expect(asked.body).toBe('');
    const mail = await waitFor('the reset mail', () => resetMails('carol@example.com')[0]);
    expect(mail.parsed.subject).toBe('Reset your Latchkey password');
    expect(mail.parsed.from?.value[0]?.address).toBe('no-reply@example.test');
    const { link, token } = resetLink(mail);
    expect(link).toBe(`https://app.example.test/reset-password?token=${token}`);
    expect(mail.parsed.text).toContain('30 minutes');
    expect(String(mail.parsed.html)).toContain(`href="${link}"`);

    // A password the policy refuses does not spend the token.
    const weak = await reset(token, 'password');
    expect(weak.statusCode).toBe(422);
    expect(weak.json().code).toBe('VALIDATION_FAILED');

    const done = await reset(token);
    expect(done.statusCode).toBe(204);

    // Every session is gone: access tokens and refresh tokens alike.
    for (const s of [phone, laptop]) {
      expect((await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.access_token) })).statusCode).toBe(401);
      const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: s.refresh_token } });
      expect(refreshed.statusCode).toBe(401);
    }
    expect((await login('carol@example.com')).json().code).toBe('INVALID_CREDENTIALS');
    const fresh = await login('carol@example.com', NEW_PASSWORD);
    expect(fresh.statusCode).toBe(200);
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(fresh.json().access_token) });
    expect(me.json().user.email_verified).toBe(true);

    const events = (await app.latchkey.store.listEvents(user.id, 50)).map((e) => e.type);
    expect(events).toContain('password_reset_requested');
    expect(events).toContain('password_reset');

    const again = await reset(token, 'yet another passphrase 7');
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('TOKEN_INVALID');
  });

  it('answers an unknown address exactly like a known one, and mails nothing', async () => {
    await register('dave@example.com');
    const known = await forgot('dave@example.com');
    const unknown = await forgot('nobody-here@example.com');
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
    const headersOf = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k !== 'date' && k !== 'x-request-id').sort();
    expect(headersOf(unknown.headers)).toEqual(headersOf(known.headers));

    await app.latchkey.mail.idle();
    expect(resetMails('dave@example.com')).toHaveLength(1);
    expect(smtp.received.filter((m) => m.envelopeTo.includes('nobody-here@example.com'))).toHaveLength(0);
    expect(logs.join('')).toContain('password reset asked for an address with no active account');
    resetLink(resetMails('dave@example.com')[0]!);
  });

  it('sends nothing for a disabled account', async () => {
    const user = await register('mallory@example.com');
    await app.latchkey.store.updateUser(user.id, { disabled: true }, clock());
    expect((await forgot('mallory@example.com')).statusCode).toBe(202);
    await app.latchkey.mail.idle();
    expect(resetMails('mallory@example.com')).toHaveLength(0);
  });

  it('expires after RESET_TOKEN_TTL (30 min); a newer link replaces the older', async () => {
    await register('erin@example.com');
    await forgot('erin@example.com');
    const first = resetLink(await waitFor('first reset mail', () => resetMails('erin@example.com')[0]));
    await forgot('erin@example.com');
    const second = resetLink(await waitFor('second reset mail', () => resetMails('erin@example.com')[1]));
    expect((await reset(first.token)).json().code).toBe('TOKEN_INVALID');

    clock.advance(30 * 60_000 + 1000);
    const late = await reset(second.token);
    expect(late.statusCode).toBe(400);
    expect(late.json().code).toBe('TOKEN_INVALID');
    // Still the old password.
    expect((await login('erin@example.com')).statusCode).toBe(200);
  });

  it('allows 3 requests per address per 15 minutes, for unknown addresses alike (429 + Retry-After)', async () => {
    await register('frank@example.com');
    for (const email of ['frank@example.com', 'ghost@example.com']) {
      for (let i = 0; i < 3; i++) expect((await forgot(email)).statusCode).toBe(202);
      const limited = await forgot(email.toUpperCase());
      expect(limited.statusCode).toBe(429);
      expect(limited.json().code).toBe('RATE_LIMITED');
      const wait = Number(limited.headers['retry-after']);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(15 * 60);
    }
    clock.advance(15 * 60_000);
    expect((await forgot('frank@example.com')).statusCode).toBe(202);
    await app.latchkey.mail.idle();
    expect(resetMails('frank@example.com')).toHaveLength(4);
  });

  it('refuses unknown tokens and bad bodies without a 500', async () => {
    expect((await reset('A'.repeat(43))).json().code).toBe('TOKEN_INVALID');
    for (const payload of [{}, { token: 'abc' }, { new_password: NEW_PASSWORD }, { token: 1, new_password: NEW_PASSWORD }]) {
      const res = await app.inject({ method: 'POST', url: '/auth/password/reset', payload });
      expect(res.statusCode).toBe(422);
    }
    for (const payload of [{}, { email: 'not-an-email' }, { email: 'a@b.c', more: true }]) {
      const res = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload });
      expect(res.statusCode).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
  });

  it('never logs a token', async () => {
    await app.latchkey.mail.idle();
    expect(mailedTokens.length).toBeGreaterThanOrEqual(4);
    const log = logs.join('');
    for (const token of mailedTokens) expect(log).not.toContain(token);
  });
});
