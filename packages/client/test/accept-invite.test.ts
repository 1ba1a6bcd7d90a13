import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp, tokenFromText, waitFor, type TestSmtp } from '../../server/test/support/email.js';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { createClient, type LatchkeyClient } from '../src/index.js';
import { cookieJarBrowser } from './cookie-jar.js';
import { newChannel, newEmail, PASSWORD, rejection } from './support.js';

// acceptInvite against a real Latchkey that mails the invitation over SMTP to an smtp-server on
// 127.0.0.1; the token is read from the message that arrived. An admin (made in the store, logged
// in over HTTP) sends the invitations through the admin API.

const NEW_PASSWORD = 'an invited passphrase';

let server: TestApp;
let smtp: TestSmtp;
let baseUrl: string;
let adminToken: string;
const open: LatchkeyClient[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  server = await createTestApp({ COOKIE_SECURE: 'false', LOG_LEVEL: 'silent', SMTP_URL: smtp.url, APP_URL: 'https://app.example.test' }, { clock: true });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  const email = newEmail();
  const reg = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
  await server.app.latchkey.store.updateUser(reg.json().user.id, { roles: ['admin'] }, server.clock!());
  adminToken = (await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json().access_token;
});

afterAll(async () => {
  await server.close();
  await smtp.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

function newClient(): LatchkeyClient {
  const browser = cookieJarBrowser();
  const client = createClient({ baseUrl, fetch: browser.fetch, readCookie: browser.readCookie, channelName: newChannel() });
  open.push(client);
  return client;
}

/** Invites `email` through the admin API; resolves to the token of the nth invitation mailed to it. */
async function invite(email: string, nth = 1): Promise<string> {
  const res = await server.app.inject({ method: 'POST', url: '/admin/users/invite', headers: { authorization: `Bearer ${adminToken}` }, payload: { email } });
  expect([200, 201]).toContain(res.statusCode);
  const mail = await waitFor(`invitation ${nth} to ${email}`, () => smtp.received.filter((m) => m.envelopeTo.includes(email) && /invited/.test(m.parsed.subject ?? ''))[nth - 1]);
  return tokenFromText(mail.parsed.text ?? '', 'accept-invite').token;
}

describe('acceptInvite', () => {
  it('sets the first password and resolves to the verified user; signs nothing in; the user then logs in', async () => {
    const email = newEmail();
    const token = await invite(email);
    const client = newClient();
    await client.restore();
    const weak = await rejection(client.acceptInvite(token, 'password1'));
    expect(weak).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(weak.errors.map((e) => e.field)).toEqual(['password']);

    // Two calls at once (a double click) share one request: both get the user.
    const [a, b] = await Promise.all([client.acceptInvite(token, NEW_PASSWORD), client.acceptInvite(token, NEW_PASSWORD)]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ email, email_verified: true });
    expect(client.getState()).toMatchObject({ status: 'anonymous', user: null });

    expect(await rejection(client.acceptInvite(token, NEW_PASSWORD))).toMatchObject({ code: 'TOKEN_INVALID', status: 400 });
    await client.login({ email: a.email, password: NEW_PASSWORD });
    expect(client.getState()).toMatchObject({ status: 'authenticated', user: { email, email_verified: true } });
  });

  it('a superseded or expired invitation, or a reset link, is TOKEN_INVALID', async () => {
    const client = newClient();
    const email = newEmail();
    const first = await invite(email, 1);
    const second = await invite(email, 2);
    expect((await rejection(client.acceptInvite(first, NEW_PASSWORD))).code).toBe('TOKEN_INVALID');

    await client.requestPasswordReset(email);
    const resetMail = await waitFor('reset mail', () => smtp.received.find((m) => m.envelopeTo.includes(email) && /^Reset/.test(m.parsed.subject ?? '')));
    const resetToken = tokenFromText(resetMail.parsed.text ?? '', 'reset-password').token;
    expect((await rejection(client.acceptInvite(resetToken, NEW_PASSWORD))).code).toBe('TOKEN_INVALID');

    server.clock!.advance(7 * 24 * 3600_000 + 1000);
    expect((await rejection(client.acceptInvite(second, NEW_PASSWORD))).code).toBe('TOKEN_INVALID');
  });
});
