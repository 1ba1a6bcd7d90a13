/**
 * The mail flows on PostgreSQL with two Latchkey instances sharing the database: a link mailed
 * by one instance works on the other, a reset token raced across both is spent exactly once,
 * and the per-user resend limit is shared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, testClock, type TestApp } from '../../support/helpers.js';
import { startSmtp, tokenFromText, waitFor, type TestSmtp } from '../../support/email.js';
import { createTestDatabase, dropTestDatabase } from '../../support/postgres.js';

const PASSWORD = 'correct horse battery staple';

let smtp: TestSmtp;
let url: string;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  smtp = await startSmtp();
  url = await createTestDatabase('latchkey_email');
  const clock = testClock();
  a = await createTestApp({ DATABASE_URL: url, SMTP_URL: smtp.url }, { clock });
  b = await createTestApp({ DATABASE_URL: url, SMTP_URL: smtp.url }, { clock });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  if (url) await dropTestDatabase(url);
  await smtp?.close();
});

function mails(address: string, subject: RegExp) {
  return smtp.received.filter((m) => m.envelopeTo.includes(address) && subject.test(m.parsed.subject ?? ''));
}

describe('mail flows on PostgreSQL, two instances', () => {
  it('verification mailed by one instance completes on the other; the resend limit is shared', async () => {
    const reg = await a.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'pg@example.com', password: PASSWORD } });
    expect(reg.statusCode).toBe(201);
    const mail = await waitFor('verification mail', () => mails('pg@example.com', /^Confirm/)[0]);
    const { token } = tokenFromText(mail.parsed.text ?? '', 'verify-email');

    const session = (await b.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'pg@example.com', password: PASSWORD } })).json();
    // The registration mail (sent by a) counts on b too.
    expect((await b.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) })).statusCode).toBe(429);
    a.clock!.advance(61_000);
    expect((await a.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) })).statusCode).toBe(202);
    const limited = await b.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();

    const newest = tokenFromText((await waitFor('second mail', () => mails('pg@example.com', /^Confirm/)[1])).parsed.text ?? '', 'verify-email');
    expect((await b.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } })).json().code).toBe('TOKEN_INVALID');
    const verified = await b.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: newest.token } });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().user.email_verified).toBe(true);
  });

  it('a reset token used at once on both instances is spent exactly once', async () => {
    await a.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'race@example.com', password: PASSWORD } });
    expect((await b.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: 'race@example.com' } })).statusCode).toBe(202);
    const mail = await waitFor('reset mail', () => mails('race@example.com', /^Reset/)[0]);
    const { token } = tokenFromText(mail.parsed.text ?? '', 'reset-password');
    const results = await Promise.all(
      ['first new passphrase', 'second new passphrase'].map((p, i) =>
        (i === 0 ? a : b).app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, new_password: p } }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([204, 400]);
    const winner = results[0]!.statusCode === 204 ? 'first new passphrase' : 'second new passphrase';
    const loser = winner === 'first new passphrase' ? 'second new passphrase' : 'first new passphrase';
    expect((await a.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'race@example.com', password: winner } })).statusCode).toBe(200);
    expect((await b.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'race@example.com', password: loser } })).statusCode).toBe(400);
  });
});
