import type { AddressInfo } from 'node:net';
import { Secret, TOTP } from 'otpauth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { purgeDueAccounts } from '../../server/src/features/users/account-deletion.js';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import {
  createClient,
  ReauthenticationRequiredError,
  type AccountExport,
  type ClientOptions,
  type LatchkeyClient,
} from '../src/index.js';
import { cookieJarBrowser, type CookieJarBrowser } from './cookie-jar.js';
import { newChannel, newEmail, PASSWORD, rejection, waitForState } from './support.js';

// The account itself through the SDK (the mail language, exportMyData, deleteAccount) against a
// real Latchkey (SQLite file, HTTP on 127.0.0.1), with cookie-jar "browsers" whose clients on one
// channel play the tabs, as in client.test.ts. The server clock is frozen and stepped.

let server: TestApp;
let graceServer: TestApp;
const open: LatchkeyClient[] = [];

async function listening(env: Record<string, string>): Promise<TestApp> {
  const app = await createTestApp({ COOKIE_SECURE: 'false', REFRESH_GRACE: '0', LOG_LEVEL: 'silent', ...env }, { clock: true });
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

function urlOf(app: TestApp): string {
  return `http://127.0.0.1:${(app.app.server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  server = await listening({});
  graceServer = await listening({ ACCOUNT_DELETION_GRACE: '7d' });
});

afterAll(async () => {
  await server.close();
  await graceServer.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

function tab(browser: CookieJarBrowser, channel: string, app: TestApp = server, extra: Partial<ClientOptions> = {}): LatchkeyClient {
  const client = createClient({ baseUrl: urlOf(app), fetch: browser.fetch, readCookie: browser.readCookie, channelName: channel, ...extra });
  open.push(client);
  return client;
}

async function signUp(client: LatchkeyClient): Promise<string> {
  const email = newEmail();
  await client.register({ email, password: PASSWORD });
  expect(await client.login({ email, password: PASSWORD })).toMatchObject({ status: 'signed_in' });
  return email;
}

describe('the mail language', () => {
  it('register with a locale; updateMe changes and clears it, and every tab sees the change', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const email = newEmail();
    expect(await a.register({ email, password: PASSWORD, locale: 'de' })).toMatchObject({ email, locale: 'de' });
    await a.login({ email, password: PASSWORD });
    const b = tab(browser, channel);
    await b.restore();
    expect(b.getState().user?.locale).toBe('de');

    const bSeesEnglish = waitForState(b, (s) => s.user?.locale === 'en');
    expect(await a.updateMe({ locale: 'en' })).toMatchObject({ locale: 'en' });
    await bSeesEnglish;
    expect(await a.updateMe({ locale: null })).toMatchObject({ locale: null });
    expect((await a.me()).locale).toBeNull();
    // A malformed tag is the server's VALIDATION_FAILED on the field, and nothing changes.
    const refused = await rejection(a.updateMe({ locale: 'not a language tag!' }));
    expect(refused).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect(refused.errors.map((e) => e.field)).toContain('locale');
  });
});

describe('exportMyData', () => {
  it('a JSON File named as the server names it, holding the profile, the sessions and the events, and no secret', async () => {
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    const email = await signUp(a);
    const id = a.getState().user!.id;
    const file = await a.exportMyData();
    expect(file).toBeInstanceOf(Blob);
    expect(file.name).toBe(`latchkey-export-${id}.json`);
    expect(file.type).toBe('application/json');
    const text = await file.text();
    const data = JSON.parse(text) as AccountExport;
    expect(data.user).toMatchObject({ id, email });
    expect(data.sessions.length).toBeGreaterThanOrEqual(1);
    expect(data.security_events.map((e) => e.type)).toEqual(expect.arrayContaining(['register', 'login_succeeded']));
    // Neither the password hash nor a token of this browser.
    const stored = await server.app.latchkey.store.findUserById(id);
    expect(text).not.toContain(stored!.passwordHash);
    expect(text).not.toContain((await a.getAccessToken())!);
    expect(text).not.toContain(browser.cookie('lk_refresh')!.value);
  });

  it('signed out: UNAUTHORIZED', async () => {
    const a = tab(cookieJarBrowser(), newChannel());
    await a.restore();
    expect(await rejection(a.exportMyData())).toMatchObject({ status: 401 });
  });
});

describe('deleteAccount', () => {
  it('a wrong password deletes nothing; the right one deletes the account and signs every tab out (account_deleted)', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const email = await signUp(a);
    const b = tab(browser, channel);
    await b.restore();

    expect(await rejection(a.deleteAccount({ currentPassword: 'not the password' }))).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(a.getState().status).toBe('authenticated');
    expect(await a.me()).toMatchObject({ email });

    const token = (await a.getAccessToken())!;
    const bOut = waitForState(b, (s) => s.status === 'anonymous');
    expect(await a.deleteAccount({ currentPassword: PASSWORD })).toEqual({ deletesAt: null });
    expect(a.getState()).toMatchObject({ status: 'anonymous', reason: 'account_deleted' });
    expect((await bOut).reason).toBe('account_deleted');
    // Live access ends at once, and the account cannot sign in again.
    const me = await fetch(`${urlOf(server)}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(401);
    expect(await rejection(a.login({ email, password: PASSWORD }))).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    // A page loaded afterwards finds no session.
    const reloaded = tab(browser, newChannel());
    expect(await reloaded.restore()).toBeNull();
  });

  it('an account with a second factor is asked to confirm it is the user (ReauthenticationRequiredError); after reauthenticate it is deleted', async () => {
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    const email = await signUp(a);
    const { secret } = await a.enrollTotp();
    const codeAt = (offset: number) => new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: server.clock!() + offset });
    await a.confirmTotp(codeAt(0));
    server.clock!.advance(11 * 60_000); // past the step-up window of the sign-in

    const refused = await rejection(a.deleteAccount({ currentPassword: PASSWORD }));
    expect(refused).toBeInstanceOf(ReauthenticationRequiredError);
    expect((refused as ReauthenticationRequiredError).methods).toContain('code');
    expect(await a.me()).toMatchObject({ email });

    await a.reauthenticate({ code: codeAt(0) });
    expect(await a.deleteAccount({ currentPassword: PASSWORD })).toEqual({ deletesAt: null });
    expect(a.getState()).toMatchObject({ status: 'anonymous', reason: 'account_deleted' });
  });

  it('with ACCOUNT_DELETION_GRACE: deletesAt, every tab signed out (account_deletion_scheduled); signing in again cancels it', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel, graceServer);
    const email = await signUp(a);
    const b = tab(browser, channel, graceServer);
    await b.restore();
    const bOut = waitForState(b, (s) => s.status === 'anonymous');

    const { deletesAt } = await a.deleteAccount({ currentPassword: PASSWORD });
    expect(Date.parse(deletesAt!)).toBe(graceServer.clock!() + 7 * 24 * 3600_000);
    expect(a.getState()).toMatchObject({ status: 'anonymous', reason: 'account_deletion_scheduled' });
    expect((await bOut).reason).toBe('account_deletion_scheduled');

    expect((await graceServer.app.latchkey.store.findUserByEmail(email))?.deletionDueAt).toBe(Date.parse(deletesAt!));
    expect(await a.login({ email, password: PASSWORD })).toMatchObject({ status: 'signed_in', user: { email } });
    expect((await graceServer.app.latchkey.store.findUserByEmail(email))?.deletionDueAt).toBeNull();
    // Past the due time the housekeeping purge leaves the account alone.
    graceServer.clock!.advance(8 * 24 * 3600_000);
    await purgeDueAccounts(graceServer.app.latchkey);
    expect(await graceServer.app.latchkey.store.findUserByEmail(email)).not.toBeNull();
  });
});
