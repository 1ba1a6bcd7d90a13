/**
 * Verification mail in the first minutes of an account, with REQUIRE_VERIFIED_EMAIL: the
 * registration mail counts toward the once-a-minute limit (a login refused right after
 * registering does not replace the link on its way), the refusal says whether a mail went and
 * when one can (mail_sent, Retry-After), and a signed-out user can ask for a new link by address
 * (POST /auth/email/verify-resend) under forgot-password's rules: 202 always, the same limit for
 * every address, no mail for an address without an unverified account.
 */
import { simpleParser } from 'mailparser';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../support/helpers.js';
import { tokenFromText } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ REQUIRE_VERIFIED_EMAIL: 'true' }, { clock: true });
});
afterAll(() => t.close());

/** The verification links mailed to `address` (in no particular order: file names sort by the wall clock's millisecond). */
async function linksTo(address: string): Promise<string[]> {
  await t.app.latchkey.mail.idle();
  const dir = join(t.dir, 'outbox');
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    const mail = await simpleParser(readFileSync(join(dir, name)));
    const to = mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined;
    if (to === address && /^Confirm/.test(mail.subject ?? '')) out.push(tokenFromText(mail.text ?? '', 'verify-email').token);
  }
  return out;
}

const register = (email: string) => t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
const login = (email: string) => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
const resend = (email: string) => t.app.inject({ method: 'POST', url: '/auth/email/verify-resend', payload: { email } });
const verify = (token: string) => t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } });

describe('the registration mail and the refused login', () => {
  it('a login refused right after registering mails nothing, says so with Retry-After, and the first link still works', async () => {
    expect((await register('fresh@example.com')).statusCode).toBe(201);
    expect(await linksTo('fresh@example.com')).toHaveLength(1);

    const refused = await login('fresh@example.com');
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'EMAIL_NOT_VERIFIED', mail_sent: false });
    expect(refused.json().detail).toMatch(/less than a minute ago; a new one can be sent in \d+ s\.$/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const links = await linksTo('fresh@example.com');
    expect(links).toHaveLength(1);
    expect((await verify(links[0]!)).statusCode).toBe(200);
    expect((await login('fresh@example.com')).statusCode).toBe(200);
  });

  it('a minute later the refusal mails a new link and says so, without Retry-After', async () => {
    await register('later@example.com');
    t.clock!.advance(61_000);
    const refused = await login('later@example.com');
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'EMAIL_NOT_VERIFIED', mail_sent: true, detail: 'Confirm your email address first: a new link has been mailed to it.' });
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(await linksTo('later@example.com')).toHaveLength(2);
  });

  it('the signed-in resend right after registering waits for the minute too', async () => {
    const t2 = await createTestApp({}, { clock: true });
    try {
      await t2.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'signedin@example.com', password: PASSWORD } });
      const session = (await t2.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'signedin@example.com', password: PASSWORD } })).json();
      const soon = await t2.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) });
      expect(soon.statusCode).toBe(429);
      t2.clock!.advance(61_000);
      expect((await t2.app.inject({ method: 'POST', url: '/auth/email/verify-request', headers: bearer(session.access_token) })).statusCode).toBe(202);
    } finally {
      await t2.close();
    }
  });
});

describe('POST /auth/email/verify-resend', () => {
  it('mails a new link to an unverified account (replacing the old one), at most once a minute', async () => {
    await register('lost@example.com');
    const [first] = await linksTo('lost@example.com');
    t.clock!.advance(61_000);
    const res = await resend('  Lost@Example.com ');
    expect(res.statusCode).toBe(202);
    expect(res.body).toBe('');
    const links = await linksTo('lost@example.com');
    expect(links).toHaveLength(2);
    const second = links.find((l) => l !== first)!;
    // Within the minute: 202 again, and no mail.
    expect((await resend('lost@example.com')).statusCode).toBe(202);
    expect(await linksTo('lost@example.com')).toHaveLength(2);
    expect((await verify(first!)).json().code).toBe('TOKEN_INVALID');
    expect((await verify(second)).statusCode).toBe(200);
    expect((await login('lost@example.com')).statusCode).toBe(200);
  });

  it('no mail for an unknown, a verified or a disabled account, and the same answers as for an unverified one', async () => {
    await register('verified@example.com');
    const [link] = await linksTo('verified@example.com');
    await verify(link!);
    const off = (await register('off@example.com')).json().user.id as string;
    await t.app.latchkey.store.updateUser(off, { disabled: true }, t.clock!());
    await register('pending@example.com');
    t.clock!.advance(61_000);

    const answers: Record<string, Array<[number, string, string | undefined]>> = {};
    for (const address of ['nobody@example.com', 'verified@example.com', 'off@example.com', 'pending@example.com']) {
      answers[address] = [];
      for (let i = 0; i < 4; i++) {
        const res = await resend(address);
        answers[address]!.push([res.statusCode, res.statusCode === 429 ? res.json().code : res.body, res.headers['retry-after'] as string | undefined]);
      }
    }
    // Three accepted, then 429 with Retry-After: for every address alike.
    for (const seq of Object.values(answers)) {
      expect(seq.map(([status]) => status)).toEqual([202, 202, 202, 429]);
      expect(seq[3]![1]).toBe('RATE_LIMITED');
      expect(Number(seq[3]![2])).toBeGreaterThan(0);
    }
    expect(answers['nobody@example.com']).toEqual(answers['pending@example.com']);
    expect(await linksTo('nobody@example.com')).toHaveLength(0);
    expect(await linksTo('verified@example.com')).toHaveLength(1);
    expect(await linksTo('off@example.com')).toHaveLength(1);
    expect(await linksTo('pending@example.com')).toHaveLength(2);
  });

  it('is in the OpenAPI document, and refuses a malformed address with 422', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, { post: { responses: Record<string, unknown> } }> };
    expect(Object.keys(doc.paths['/auth/email/verify-resend']!.post.responses)).toEqual(expect.arrayContaining(['202', '422', '429']));
    const bad = await resend('not-an-address');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors).toEqual([{ field: 'email', message: 'Email must be an email address, like name@example.com.' }]);
  });
});
