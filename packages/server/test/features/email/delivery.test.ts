/**
 * Delivery when the SMTP server is down or refuses: registration still answers 201 and keeps
 * the account, the failure is logged, delivery is retried (real connection refusals on
 * 127.0.0.1, then a real smtp-server coming up on the same port), and nothing is dropped
 * silently, not even at shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../support/helpers.js';
import { freePort, startSmtp, tokenFromText, waitFor, type TestSmtp } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';

let t: TestApp | undefined;
let smtp: TestSmtp | undefined;

afterEach(async () => {
  await t?.close();
  await smtp?.close();
  t = undefined;
  smtp = undefined;
});

type LogLine = Record<string, unknown> & { msg: string };
function lines(app: TestApp): LogLine[] {
  return app.logs.map((l) => JSON.parse(l) as LogLine);
}
function linesWith(app: TestApp, msg: string): LogLine[] {
  return lines(app).filter((l) => l.msg === msg);
}

async function register(app: TestApp, email: string) {
  const res = await app.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  expect(res.statusCode).toBe(201);
  return res.json().user as { id: string };
}

describe('SMTP server slow', () => {
  it('sees at most 4 SMTP exchanges at once during a burst of registrations, and every mail arrives', async () => {
    smtp = await startSmtp({ dataDelayMs: 800 });
    t = await createTestApp({ SMTP_URL: smtp.url });
    const emails = Array.from({ length: 10 }, (_, i) => `burst${i}@example.com`);
    await Promise.all(emails.map((email) => register(t!, email)));
    await t.app.latchkey.mail.idle();
    expect(smtp.received.map((m) => m.envelopeTo[0]).sort()).toEqual([...emails].sort());
    expect(smtp.maxConcurrentData()).toBeGreaterThan(1);
    expect(smtp.maxConcurrentData()).toBeLessThanOrEqual(4);
  });
});

describe('SMTP server down', () => {
  it('registration succeeds at once; the failure is logged and retried until the server is back', async () => {
    const port = await freePort();
    t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_RETRY_DELAYS: '300ms,300ms,300ms,300ms,300ms' });
    const user = await register(t, 'down@example.com');
    expect(await t.app.latchkey.store.findUserById(user.id)).not.toBeNull();

    const failed = await waitFor('a failed attempt in the log', () => linesWith(t!, 'mail delivery failed; will retry')[0]);
    expect(failed).toMatchObject({ level: 40, mail: 'verify_email', to: 'down@example.com', attempt: 1, via: `smtp://127.0.0.1:${port}` });
    expect(String((failed.err as { message: string }).message)).toMatch(/ECONNREFUSED/);
    // The account is usable meanwhile.
    expect((await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'down@example.com', password: PASSWORD } })).statusCode).toBe(200);

    smtp = await startSmtp({ port });
    const mail = await waitFor('the mail after the server came back', () => smtp!.received[0]);
    const sent = await waitFor('the success line', () => linesWith(t!, 'mail sent')[0]);
    expect(sent.attempt).toBeGreaterThanOrEqual(2);
    const { token } = tokenFromText(mail.parsed.text ?? '', 'verify-email');
    const verified = await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } });
    expect(verified.statusCode).toBe(200);
    expect(t.logs.join('')).not.toContain(token);
  });

  it('gives up after the last retry with an error line; the account stays and a new link can be asked for', async () => {
    const port = await freePort();
    t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_RETRY_DELAYS: '20ms,20ms' }, { clock: true });
    await register(t, 'gaveup@example.com');
    await t.app.latchkey.mail.idle();
    expect(linesWith(t, 'mail delivery failed; will retry')).toHaveLength(2);
    const gaveUp = linesWith(t, 'mail not delivered: giving up');
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatchObject({ level: 50, to: 'gaveup@example.com', attempts: 3, mail: 'verify_email' });

    smtp = await startSmtp({ port });
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'gaveup@example.com', password: PASSWORD } });
    expect(login.statusCode).toBe(200);
    // The lost registration mail counted toward the once-a-minute limit.
    t.clock!.advance(61_000);
    const again = await t.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(login.json().access_token) });
    expect(again.statusCode).toBe(202);
    const mail = await waitFor('the requested mail', () => smtp!.received[0]);
    const { token } = tokenFromText(mail.parsed.text ?? '', 'verify-email');
    expect((await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } })).statusCode).toBe(200);
  });

  it('does not retry a permanent refusal (550), and logs it', async () => {
    smtp = await startSmtp({ rejectRecipients: ['bounce@example.com'] });
    t = await createTestApp({ SMTP_URL: smtp.url, MAIL_RETRY_DELAYS: '20ms,20ms' });
    await register(t, 'bounce@example.com');
    await t.app.latchkey.mail.idle();
    expect(linesWith(t, 'mail delivery failed; will retry')).toHaveLength(0);
    const refused = linesWith(t, 'mail not delivered: the server refused it permanently');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ to: 'bounce@example.com', attempts: 1, err: { responseCode: 550 } });
    expect(smtp.received).toHaveLength(0);
  });

  it('at shutdown, a message waiting for its retry is logged as not delivered and close() does not wait for the timer', async () => {
    const port = await freePort();
    t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_RETRY_DELAYS: '1h' });
    await register(t, 'shutdown@example.com');
    await waitFor('a failed attempt', () => linesWith(t!, 'mail delivery failed; will retry')[0]);
    const app = t;
    t = undefined;
    await app.close();
    const dropped = linesWith(app, 'mail not delivered: the server shut down before the retry');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ level: 50, to: 'shutdown@example.com', attempts: 1 });
  });
});
