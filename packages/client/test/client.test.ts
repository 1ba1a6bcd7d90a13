import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import {
  createClient,
  errorFromResponse,
  LatchkeyError,
  parseRetryAfter,
  signOutReasonFor,
  type ClientOptions,
  type LatchkeyClient,
} from '../src/index.js';
import { cookieJarBrowser, type CookieJarBrowser } from './cookie-jar.js';
import { MINUTE, newChannel, newEmail, PASSWORD, recordEvents, skewableClock, waitForState } from './support.js';

// The SDK against a real Latchkey (real SQLite file, real HTTP on 127.0.0.1). Node has fetch and
// BroadcastChannel but no Web Locks, so the cross-tab tests here exercise the BroadcastChannel
// fallback; the Chromium end-to-end tests (apps/demo/test) exercise Web Locks.
// REFRESH_GRACE=0: any uncoordinated second use of a refresh token is punished as reuse, so the
// SDK cannot lean on the server's grace window. The server clock is frozen and stepped.

let server: TestApp;
let baseUrl: string;
const open: LatchkeyClient[] = [];

beforeAll(async () => {
  server = await createTestApp({ COOKIE_SECURE: 'false', REFRESH_GRACE: '0', JWT_LEEWAY: '0', LOG_LEVEL: 'silent' }, { clock: true });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

/** One "tab": a client in the given browser (cookie jar), on the given channel. */
function tab(browser: CookieJarBrowser, channel: string, extra: Partial<ClientOptions> = {}): LatchkeyClient {
  const client = createClient({ baseUrl, fetch: browser.fetch, readCookie: browser.readCookie, channelName: channel, ...extra });
  open.push(client);
  return client;
}

async function signUp(client: LatchkeyClient, name = 'Ada'): Promise<string> {
  const email = newEmail();
  await client.register({ email, password: PASSWORD, name });
  await client.login({ email, password: PASSWORD });
  return email;
}

describe('login, restore and tokens', () => {
  it('logs in in cookie mode: refresh token only in an HttpOnly cookie, access token only in memory', async () => {
    const browser = cookieJarBrowser();
    const client = tab(browser, newChannel());
    const events = recordEvents(client);
    const email = await signUp(client);

    expect(client.getState()).toMatchObject({ status: 'authenticated', user: { email, name: 'Ada' } });
    expect(events).toContain('signed_in');
    const refresh = browser.cookie('lk_refresh');
    expect(refresh).toMatchObject({ httpOnly: true, path: '/auth' });
    expect(browser.readCookie('lk_refresh')).toBeNull();
    expect(browser.readCookie('lk_csrf')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = await client.getAccessToken();
    expect(token?.split('.')).toHaveLength(3);
    expect(token).not.toContain(refresh!.value);
    // Using the token does not refresh it: it is fresh.
    expect(browser.count('POST', '/auth/refresh')).toBe(0);
  });

  it('restores the session in a new page (same cookies) with one refresh, and not without cookies', async () => {
    const browser = cookieJarBrowser();
    const first = tab(browser, newChannel());
    const email = await signUp(first);
    first.close();

    const reloaded = tab(browser, newChannel());
    const events = recordEvents(reloaded);
    expect(reloaded.getState().status).toBe('loading');
    const user = await reloaded.restore();
    expect(user?.email).toBe(email);
    expect(reloaded.getState()).toMatchObject({ status: 'authenticated', user: { email } });
    expect(events).toEqual(['restored']);
    expect(browser.count('POST', '/auth/refresh')).toBe(1);
    expect((await reloaded.me()).email).toBe(email);

    const stranger = cookieJarBrowser();
    const anonymous = tab(stranger, newChannel());
    expect(await anonymous.restore()).toBeNull();
    expect(anonymous.getState().status).toBe('anonymous');
    expect(await anonymous.getAccessToken()).toBeNull();
    // No CSRF cookie means no session: nothing was asked of the server.
    expect(stranger.requests).toHaveLength(0);
  });

  it('an access token the server finds expired is refreshed once on the 401 and the request retried with its body', async () => {
    const browser = cookieJarBrowser();
    const client = tab(browser, newChannel(), { autoRefresh: false });
    await signUp(client);
    const before = await client.getAccessToken();
    server.clock!.advance(16 * MINUTE); // the client's clock does not know: it believes the token valid

    const response = await client.fetch(`${baseUrl}/auth/me`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Retried' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { user: { name: string } }).user.name).toBe('Retried');
    const patches = browser.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => [r.status, r.code])).toEqual([
      [401, 'INVALID_TOKEN'],
      [200, null],
    ]);
    expect(browser.count('POST', '/auth/refresh')).toBe(1);
    expect(await client.getAccessToken()).not.toBe(before);
  });

  it('refreshes before a request when the token is about to expire, once for many concurrent calls', async () => {
    const browser = cookieJarBrowser();
    const clock = skewableClock();
    const client = tab(browser, newChannel(), { autoRefresh: false, now: clock.now });
    const email = await signUp(client);
    clock.skip(15 * MINUTE);
    server.clock!.advance(15 * MINUTE);

    const results = await Promise.all([
      client.me(),
      client.me(),
      client.sessions(),
      client.fetch(`${baseUrl}/auth/me`).then((r) => r.status),
      client.getAccessToken(),
    ]);
    expect(results[0].email).toBe(email);
    expect(results[2]).toHaveLength(1);
    expect(results[3]).toBe(200);
    expect(browser.count('POST', '/auth/refresh')).toBe(1);
    // No request went out with the stale token.
    expect(browser.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('a revoked session gets one refresh attempt, then every tab is signed out', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const client = tab(browser, channel);
    const sibling = tab(browser, channel);
    const email = await signUp(client);
    await sibling.restore();
    const refreshesBefore = browser.count('POST', '/auth/refresh');

    // The same user on another device revokes this browser's session.
    const device = tab(cookieJarBrowser(), newChannel());
    await device.login({ email, password: PASSWORD });
    const victim = (await device.sessions()).find((s) => !s.current)!;
    await device.revokeSession(victim.id);

    const siblingOut = waitForState(sibling, (s) => s.status === 'anonymous');
    const response = await client.fetch(`${baseUrl}/auth/me`);
    expect(response.status).toBe(401);
    expect(browser.count('POST', '/auth/refresh')).toBe(refreshesBefore + 1);
    expect(client.getState()).toMatchObject({ status: 'anonymous', reason: 'revoked_elsewhere' });
    expect((await siblingOut).reason).toBe('revoked_elsewhere');
    expect(browser.cookie('lk_refresh')).toBeUndefined();
    await expect(client.me()).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(browser.count('POST', '/auth/refresh')).toBe(refreshesBefore + 1);
  });
});

describe('several tabs (BroadcastChannel fallback)', () => {
  it('tabs that need a refresh at the same moment make one refresh and share it (REFRESH_GRACE=0)', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const clock = skewableClock();
    const a = tab(browser, channel, { now: clock.now });
    const b = tab(browser, channel, { now: clock.now });
    const c = tab(browser, channel, { now: clock.now });
    await signUp(a);
    await Promise.all([b.restore(), c.restore()]);
    expect(b.getState().status).toBe('authenticated');
    expect(c.getState().status).toBe('authenticated');

    for (let round = 0; round < 3; round += 1) {
      const before = browser.count('POST', '/auth/refresh');
      clock.skip(15 * MINUTE);
      server.clock!.advance(15 * MINUTE);
      const [ta, tb, tc] = await Promise.all([a.getAccessToken(), b.getAccessToken(), c.getAccessToken()]);
      expect(ta).not.toBeNull();
      expect(tb).toBe(ta);
      expect(tc).toBe(ta);
      expect(browser.count('POST', '/auth/refresh')).toBe(before + 1);
    }
    expect(browser.requests.filter((r) => r.code === 'REFRESH_TOKEN_REUSED')).toHaveLength(0);
    for (const t of [a, b, c]) expect((await t.me()).id).toBe(a.getState().user!.id);
  });

  it('control: two clients that do not coordinate (different channels) trip reuse detection', async () => {
    const browser = cookieJarBrowser();
    const clock = skewableClock();
    const a = tab(browser, newChannel(), { now: clock.now, autoRefresh: false });
    const b = tab(browser, newChannel(), { now: clock.now, autoRefresh: false });
    await signUp(a);
    await b.restore();
    clock.skip(15 * MINUTE);
    server.clock!.advance(15 * MINUTE);
    await Promise.all([a.getAccessToken(), b.getAccessToken()]);
    expect(browser.requests.filter((r) => r.code === 'REFRESH_TOKEN_REUSED').length).toBeGreaterThan(0);
  });

  it('logout in one tab signs every tab out and clears the cookies', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    await signUp(a);
    await b.restore();
    const events = recordEvents(b);
    const bOut = waitForState(b, (s) => s.status === 'anonymous');

    await a.logout();
    expect(a.getState()).toMatchObject({ status: 'anonymous', reason: 'logged_out' });
    expect((await bOut).reason).toBe('logged_out');
    expect(events).toEqual(['signed_out']);
    expect(await b.getAccessToken()).toBeNull();
    expect(browser.cookie('lk_refresh')).toBeUndefined();
    expect(browser.readCookie('lk_csrf')).toBeNull();
    const reloaded = tab(browser, newChannel());
    expect(await reloaded.restore()).toBeNull();
  });

  it('a login in one tab signs the other tabs in', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    await b.restore();
    expect(b.getState().status).toBe('anonymous');
    const bIn = waitForState(b, (s) => s.status === 'authenticated');
    const email = await signUp(a);
    expect((await bIn).user?.email).toBe(email);
    expect(await b.getAccessToken()).toBe(await a.getAccessToken());
  });
});

describe('account calls', () => {
  it('profile edit reaches the other tabs; change password ends the other devices', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    const email = await signUp(a);
    await b.restore();
    const bUpdated = waitForState(b, (s) => s.user?.name === 'Grace');

    expect((await a.updateMe({ name: 'Grace' })).name).toBe('Grace');
    await bUpdated;

    const device = tab(cookieJarBrowser(), newChannel());
    await device.login({ email, password: PASSWORD });
    expect(await a.sessions()).toHaveLength(2);

    await expect(a.changePassword({ currentPassword: 'wrong password here', newPassword: 'another long passphrase' })).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
      status: 400,
    });
    await a.changePassword({ currentPassword: PASSWORD, newPassword: 'another long passphrase' });
    const sessions = await a.sessions();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.current).toBe(true);
    await expect(device.me()).rejects.toMatchObject({ status: 401, reason: 'password_changed' });
    expect(device.getState()).toMatchObject({ status: 'anonymous', reason: 'password_changed' });
  });

  it('revoking the current session signs out; logout everywhere ends every device', async () => {
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    const email = await signUp(a);
    const current = (await a.sessions()).find((s) => s.current)!;
    await a.revokeSession(current.id);
    expect(a.getState().status).toBe('anonymous');

    const phone = tab(cookieJarBrowser(), newChannel());
    const laptop = tab(cookieJarBrowser(), newChannel());
    await phone.login({ email, password: PASSWORD });
    await laptop.login({ email, password: PASSWORD });
    await laptop.logoutAll();
    expect(laptop.getState().status).toBe('anonymous');
    await expect(phone.sessions()).rejects.toMatchObject({ status: 401 });
    expect(phone.getState().status).toBe('anonymous');
  });

  it('maps problem+json to LatchkeyError codes, and an unreachable server to NETWORK_ERROR', async () => {
    const client = tab(cookieJarBrowser(), newChannel());
    const email = newEmail();
    await client.register({ email, password: PASSWORD });
    await expect(client.register({ email, password: PASSWORD })).rejects.toMatchObject({ code: 'EMAIL_TAKEN', status: 409 });
    const invalid = await client.register({ email: newEmail(), password: 'short' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(LatchkeyError);
    expect(invalid).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
    expect((invalid as LatchkeyError).errors.map((e) => e.field)).toContain('password');
    await expect(client.login({ email, password: 'not the password' })).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
      status: 400,
      retryAfter: null,
    });
    expect(client.getState().status).not.toBe('authenticated');

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const offline = createClient({ baseUrl: `http://127.0.0.1:${port}`, channelName: newChannel() });
    open.push(offline);
    await expect(offline.login({ email, password: PASSWORD })).rejects.toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
  });
});

describe('why the session ended (state.reason)', () => {
  it('a spent refresh token used again: the client that hit it says reuse_detected, the other finds its session over', async () => {
    const browser = cookieJarBrowser();
    const clock = skewableClock();
    const a = tab(browser, newChannel(), { now: clock.now, autoRefresh: false });
    const b = tab(browser, newChannel(), { now: clock.now, autoRefresh: false });
    await signUp(a);
    await b.restore();
    clock.skip(15 * MINUTE);
    server.clock!.advance(15 * MINUTE);
    // Different channels: no coordination, so one of the two refreshes is reuse (REFRESH_GRACE=0).
    await Promise.all([a.getAccessToken(), b.getAccessToken()]);
    await Promise.all([a.me().catch(() => null), b.me().catch(() => null)]);
    const states = [a.getState(), b.getState()];
    expect(states.map((s) => s.status)).toEqual(['anonymous', 'anonymous']);
    const reasons = states.map((s) => s.reason);
    expect(reasons).toContain('reuse_detected');
    // The winner's session was revoked with the other's reuse (the server says reuse_detected).
    // Which of the two answers last decided the shared cookie jar: the winner's new cookie
    // (refused: reuse_detected) or none at all (session_ended).
    // Under load a third order was seen (twice in one full run, never alone): the other tab's
    // refresh carries a token the server answers with INVALID_REFRESH_TOKEN and no reason
    // (session_revoked). Signed out either way; which path gives it is noted for the next session.
    const other = reasons.find((r) => r !== 'reuse_detected') ?? 'reuse_detected';
    expect(['reuse_detected', 'session_ended', 'session_revoked']).toContain(other);
  });

  it('past the idle timeout: session_expired, both for the signed-in tab and for a later page load', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel, { autoRefresh: false });
    const b = tab(browser, channel, { autoRefresh: false });
    await signUp(a);
    await b.restore();
    const bOut = waitForState(b, (s) => s.status === 'anonymous');
    server.clock!.advance(8 * 24 * 60 * MINUTE); // SESSION_IDLE_TIMEOUT is 7 days
    await expect(a.me()).rejects.toMatchObject({ status: 401 });
    expect(a.getState()).toMatchObject({ status: 'anonymous', user: null, reason: 'session_expired' });
    expect((await bOut).reason).toBe('session_expired');

    // A page load that finds the session over says so too (the cookies are still there).
    const other = cookieJarBrowser();
    const first = tab(other, newChannel());
    await signUp(first);
    first.close();
    server.clock!.advance(8 * 24 * 60 * MINUTE);
    const reloaded = tab(other, newChannel());
    expect(await reloaded.restore()).toBeNull();
    expect(reloaded.getState()).toMatchObject({ status: 'anonymous', reason: 'session_expired' });
  });

  it('signing in again clears the reason; a page load with no session has none', async () => {
    const browser = cookieJarBrowser();
    const a = tab(browser, newChannel());
    const email = await signUp(a);
    await a.logout();
    expect(a.getState().reason).toBe('logged_out');
    await a.login({ email, password: PASSWORD });
    expect(a.getState()).toMatchObject({ status: 'authenticated', reason: null });
    const stranger = tab(cookieJarBrowser(), newChannel());
    await stranger.restore();
    expect(stranger.getState()).toMatchObject({ status: 'anonymous', reason: null });
  });

  it('maps the refusal codes to reasons, and an unknown one to session_ended', () => {
    expect(signOutReasonFor('INVALID_REFRESH_TOKEN')).toBe('session_revoked');
    expect(signOutReasonFor('SESSION_EXPIRED')).toBe('session_expired');
    expect(signOutReasonFor('REFRESH_TOKEN_REUSED')).toBe('reuse_detected');
    expect(signOutReasonFor('ACCOUNT_DISABLED')).toBe('account_disabled');
    expect(signOutReasonFor('CSRF_FAILED')).toBe('session_ended');
  });

  it("maps the server's reason member, before the code; a reason this SDK does not know is session_ended", () => {
    const cases: Array<[string, string]> = [
      ['logout', 'logged_out'],
      ['revoked_by_user', 'revoked_elsewhere'],
      ['revoked_by_admin', 'revoked_by_admin'],
      ['password_changed', 'password_changed'],
      ['password_reset', 'password_reset'],
      ['roles_changed', 'roles_changed'],
      ['reuse_detected', 'reuse_detected'],
      ['account_disabled', 'account_disabled'],
      ['revoked', 'session_revoked'],
      ['a_reason_from_the_future', 'session_ended'],
      ['toString', 'session_ended'],
    ];
    for (const [reason, expected] of cases) expect(signOutReasonFor('INVALID_REFRESH_TOKEN', reason), reason).toBe(expected);
    expect(signOutReasonFor('INVALID_REFRESH_TOKEN', null)).toBe('session_revoked');
  });
});

describe('why the session ended, as the server says (state.reason in every tab)', () => {
  let admin: string;
  beforeAll(async () => {
    const email = newEmail();
    const created = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } });
    await server.app.latchkey.store.updateUser(created.json().user.id, { roles: ['admin'] }, server.clock!());
    admin = (await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json().access_token;
  });

  const asAdmin = (method: 'PATCH' | 'POST', url: string, payload?: object) =>
    server.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(payload ? { payload } : {}) });

  /** Two tabs of one browser, signed in; the user's id. */
  async function twoTabs(): Promise<{ a: LatchkeyClient; b: LatchkeyClient; email: string; id: string }> {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const a = tab(browser, channel);
    const b = tab(browser, channel);
    const email = await signUp(a);
    await b.restore();
    return { a, b, email, id: a.getState().user!.id };
  }

  /** Tab a notices at its next call; both tabs end up anonymous with `reason`, and the call's error carries the server's reason. */
  async function expectEnded(tabs: { a: LatchkeyClient; b: LatchkeyClient }, reason: string, serverReason: string | null, code = 'INVALID_TOKEN'): Promise<void> {
    const bOut = waitForState(tabs.b, (s) => s.status === 'anonymous');
    await expect(tabs.a.sessions()).rejects.toMatchObject({ code, reason: serverReason });
    expect(tabs.a.getState()).toMatchObject({ status: 'anonymous', user: null, reason });
    expect((await bOut).reason).toBe(reason);
  }

  it('an administrator ends the sessions: revoked_by_admin', async () => {
    const t = await twoTabs();
    expect((await asAdmin('POST', `/admin/users/${t.id}/revoke-sessions`)).statusCode).toBe(200);
    await expectEnded(t, 'revoked_by_admin', 'revoked_by_admin');
  });

  it('new roles: the session goes on (and /auth/me shows them at once); with end_sessions: roles_changed', async () => {
    const t = await twoTabs();
    expect((await asAdmin('PATCH', `/admin/users/${t.id}`, { roles: ['editor'] })).statusCode).toBe(200);
    expect((await t.a.sessions()).length).toBe(1);
    expect((await t.a.me()).roles).toEqual(['editor']);
    expect([t.a.getState().status, t.b.getState().status]).toEqual(['authenticated', 'authenticated']);

    expect((await asAdmin('PATCH', `/admin/users/${t.id}`, { roles: ['user'], end_sessions: true })).statusCode).toBe(200);
    await expectEnded(t, 'roles_changed', 'roles_changed');
  });

  it('the account is disabled: account_disabled (the refresh answers ACCOUNT_DISABLED)', async () => {
    const t = await twoTabs();
    expect((await asAdmin('PATCH', `/admin/users/${t.id}`, { disabled: true })).statusCode).toBe(200);
    await expectEnded(t, 'account_disabled', 'account_disabled');
  });

  it('log out everywhere from another device: logged_out', async () => {
    const t = await twoTabs();
    const device = tab(cookieJarBrowser(), newChannel());
    await device.login({ email: t.email, password: PASSWORD });
    await device.logoutAll();
    await expectEnded(t, 'logged_out', 'logout');
  });
});

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates; anything else is null', async () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 90_500).toUTCString(), now)).toBe(90);
    expect(parseRetryAfter(new Date(now - 5_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    const problem = new Response(JSON.stringify({ code: 'RATE_LIMITED', detail: 'Too many requests; retry in 42 s.' }), {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '42' },
    });
    expect(await errorFromResponse(problem)).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfter: 42 });
  });
});

describe('fetch wrapper', () => {
  let echo: Server;
  let echoOrigin: string;

  beforeAll(async () => {
    echo = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoOrigin = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it('attaches the token only to Latchkey and the configured API origins', async () => {
    const browser = cookieJarBrowser();
    const plain = tab(browser, newChannel());
    await signUp(plain);
    const token = await plain.getAccessToken();
    const seen = async (client: LatchkeyClient) =>
      ((await (await client.fetch(`${echoOrigin}/orders`)).json()) as { authorization: string | null }).authorization;
    expect(await seen(plain)).toBeNull();

    const withApi = tab(browser, newChannel(), { apiOrigins: [echoOrigin] });
    await withApi.restore();
    const attached = await seen(withApi);
    expect(attached).toMatch(/^Bearer ey/);
    expect(attached).not.toBe(`Bearer ${token}`); // the restored tab has its own fresh token
    // A caller's own Authorization header is left alone.
    const own = await withApi.fetch(`${echoOrigin}/orders`, { headers: { authorization: 'Basic abc' } });
    expect(((await own.json()) as { authorization: string }).authorization).toBe('Basic abc');
  });
});
