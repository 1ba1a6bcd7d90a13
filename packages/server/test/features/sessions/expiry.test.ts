/**
 * Idle timeout and absolute lifetime, driven by the injected clock (no sleeping).
 */
import { describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin } from '../../support/helpers.js';
import { bearerRefresh, claimsOf, cookieLogin, cookieRefresh, expectProblem, me, setCookies, updateJar } from '../../support/sessions.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('idle timeout', () => {
  it('each refresh moves the idle deadline; a session unused for SESSION_IDLE_TIMEOUT ends (401 SESSION_EXPIRED)', async () => {
    // Access tokens outlive the idle timeout here, so /auth/me shows the session check itself.
    const t = await createTestApp({ SESSION_IDLE_TIMEOUT: '1h', SESSION_MAX_AGE: '1d', ACCESS_TOKEN_TTL: '2h' }, { clock: true });
    try {
      const u = await registerAndLogin(t.app);
      t.clock!.advance(HOUR - 1);
      const r1 = await bearerRefresh(t.app, u.refresh);
      expect(r1.statusCode, r1.body).toBe(200);
      const p1 = r1.json() as { access_token: string; refresh_token: string };

      const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(p1.access_token) });
      const [s] = list.json().sessions as Array<{ last_used_at: string; expires_at: string; created_at: string }>;
      expect(Date.parse(s!.last_used_at)).toBe(t.clock!());
      expect(Date.parse(s!.expires_at)).toBe(t.clock!() + HOUR);

      t.clock!.advance(HOUR - 1);
      expect((await me(t.app, p1.access_token)).statusCode).toBe(200);
      t.clock!.advance(1);
      // The JWT itself is still valid for 2 h: the 401 comes from the session check.
      expectProblem(await me(t.app, p1.access_token), 401, 'INVALID_TOKEN');
      const late = await bearerRefresh(t.app, p1.refresh_token);
      expectProblem(late, 401, 'SESSION_EXPIRED');
      expect(late.json().error).toBe('invalid_grant');
      expect(late.headers['www-authenticate']).toContain('error="invalid_token"');
    } finally {
      await t.close();
    }
  });

  it('defaults to 7 days', async () => {
    const t = await createTestApp({}, { clock: true });
    try {
      const a = await registerAndLogin(t.app);
      const b = await registerAndLogin(t.app);
      t.clock!.advance(7 * DAY - 1);
      expect((await bearerRefresh(t.app, a.refresh)).statusCode).toBe(200);
      t.clock!.advance(1);
      expectProblem(await bearerRefresh(t.app, b.refresh), 401, 'SESSION_EXPIRED');
    } finally {
      await t.close();
    }
  });
});

describe('absolute lifetime', () => {
  it('a session ends SESSION_MAX_AGE after login however active it is; the cookie never outlives it', async () => {
    const t = await createTestApp({ SESSION_IDLE_TIMEOUT: '1h', SESSION_MAX_AGE: '3h' }, { clock: true });
    try {
      const u = await registerAndLogin(t.app);
      const login = await cookieLogin(t.app, u.email, u.password);
      expect(setCookies(login.res).lk_refresh!.raw).toMatch(/Max-Age=10800(;|$)/);
      let jar = login.jar;
      for (let i = 1; i <= 3; i++) {
        t.clock!.advance(50 * MIN);
        const res = await cookieRefresh(t.app, jar);
        expect(res.statusCode, res.body).toBe(200);
        // Max-Age counts down to the session's end: 3 h - i * 50 min.
        expect(setCookies(res).lk_refresh!.raw).toMatch(new RegExp(`Max-Age=${(3 * HOUR - i * 50 * MIN) / 1000}(;|$)`));
        jar = updateJar(jar, res);
        if (i === 3) {
          // 2h30 in: the idle deadline is capped at the absolute end (3 h), not now + 1 h.
          const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(res.json().access_token as string) });
          const current = (list.json().sessions as Array<{ current: boolean; expires_at: string }>).find((s) => s.current)!;
          expect(Date.parse(current.expires_at)).toBe(Date.UTC(2026, 0, 1) + 3 * HOUR);
        }
      }
      t.clock!.advance(30 * MIN - 1);
      const lastGood = await cookieRefresh(t.app, jar);
      expect(lastGood.statusCode).toBe(200);
      expect(setCookies(lastGood).lk_refresh!.raw).toMatch(/Max-Age=0(;|$)/);
      jar = updateJar(jar, lastGood);
      t.clock!.advance(1);
      const dead = await cookieRefresh(t.app, { ...login.jar, lk_refresh: setCookies(lastGood).lk_refresh!.value });
      expectProblem(dead, 401, 'SESSION_EXPIRED');
      expect(updateJar(login.jar, dead)).toEqual({});
      // The bearer session of the same login time ended too (it was idle anyway).
      expectProblem(await bearerRefresh(t.app, u.refresh), 401, 'SESSION_EXPIRED');
      expect(claimsOf(login.access).sid).not.toBe(claimsOf(u.access).sid);
    } finally {
      await t.close();
    }
  });

  it('defaults to 30 days, and ended sessions leave the list', async () => {
    const t = await createTestApp({}, { clock: true });
    try {
      const u = await registerAndLogin(t.app);
      const idle = await registerAndLogin(t.app);
      let refresh = u.refresh;
      let access = u.access;
      for (let day = 6; day < 30; day += 6) {
        t.clock!.advance(6 * DAY);
        const res = await bearerRefresh(t.app, refresh);
        expect(res.statusCode, `day ${day}: ${res.body}`).toBe(200);
        ({ refresh_token: refresh, access_token: access } = res.json() as { refresh_token: string; access_token: string });
      }
      // Day 24: a second session of the same user, then the first one's end at day 30.
      const second = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: u.password } });
      const secondAccess = second.json().access_token as string;
      let list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(secondAccess) });
      expect((list.json().sessions as unknown[]).length).toBe(2);

      t.clock!.advance(6 * DAY - 1);
      const almost = await bearerRefresh(t.app, refresh);
      expect(almost.statusCode).toBe(200);
      refresh = almost.json().refresh_token as string;
      t.clock!.advance(1);
      expectProblem(await bearerRefresh(t.app, refresh), 401, 'SESSION_EXPIRED');
      expectProblem(await me(t.app, access), 401, 'INVALID_TOKEN');
      expectProblem(await bearerRefresh(t.app, idle.refresh), 401, 'SESSION_EXPIRED');

      // The access token of the day-24 login expired long ago; refresh-free check through the store.
      list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(secondAccess) });
      expectProblem(list, 401, 'INVALID_TOKEN');
      const live = await t.app.latchkey.store.listSessions(u.userId, t.clock!());
      expect(live.map((s) => s.id)).toEqual([claimsOf(secondAccess).sid]);
    } finally {
      await t.close();
    }
  });
});
