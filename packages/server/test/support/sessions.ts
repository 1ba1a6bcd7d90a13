/** Small helpers shared by the sessions test files (sessions-*.test.ts, cors, purge). */
import type { FastifyInstance } from 'fastify';
import type { Response as InjectResponse } from 'light-my-request';
import { expect } from 'vitest';
import type { SqliteStore } from '../../src/store/sqlite/index.js';
import type { SecurityEvent } from '../../src/store/types.js';
import { bearer } from './helpers.js';

export interface CookieLogin {
  access: string;
  csrf: string;
  /** The cookies a browser would now hold: lk_refresh and lk_csrf. */
  jar: Record<string, string>;
  res: InjectResponse;
}

/** The cookies a response sets, by name (an empty value means "cleared"). */
export function setCookies(res: InjectResponse): Record<string, { value: string; raw: string }> {
  const raw = res.headers['set-cookie'];
  const lines = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const out: Record<string, { value: string; raw: string }> = {};
  for (const line of lines) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    out[pair!.slice(0, eq)] = { value: pair!.slice(eq + 1), raw: line };
  }
  return out;
}

/** Applies a response's Set-Cookie lines to a jar the way a browser would. */
export function updateJar(jar: Record<string, string>, res: InjectResponse): Record<string, string> {
  const next = { ...jar };
  for (const [name, c] of Object.entries(setCookies(res))) {
    if (c.value === '' || /max-age=0/i.test(c.raw)) delete next[name];
    else next[name] = c.value;
  }
  return next;
}

export async function cookieLogin(app: FastifyInstance, email: string, password: string): Promise<CookieLogin> {
  const res = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'x-auth-mode': 'cookie' },
    payload: { email, password },
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { access_token: string; csrf_token: string };
  return { access: body.access_token, csrf: body.csrf_token, jar: updateJar({}, res), res };
}

/** A refresh through the cookie, the way the SDK sends it: no body, the CSRF header. */
export function cookieRefresh(
  app: FastifyInstance,
  jar: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<InjectResponse> {
  return app.inject({
    method: 'POST',
    url: '/auth/refresh',
    cookies: jar,
    headers: { 'x-csrf-token': jar.lk_csrf ?? '', ...extra },
  });
}

export function bearerRefresh(app: FastifyInstance, refreshToken: string): Promise<InjectResponse> {
  return app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } });
}

export function me(app: FastifyInstance, access: string): Promise<InjectResponse> {
  return app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
}

/** The payload of a JWT, unverified (the tests only read `sid`). */
export function claimsOf(jwt: string): { sid: string; sub: string; exp: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string; sub: string; exp: number };
}

export function expectProblem(res: InjectResponse, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ status, code });
}

export function sqliteOf(app: FastifyInstance): SqliteStore {
  return app.latchkey.store as SqliteStore;
}

export async function eventsOf(app: FastifyInstance, userId: string): Promise<SecurityEvent[]> {
  return app.latchkey.store.listEvents(userId, 100);
}

/**
 * RFC 6265 section 5.1.4 path-match: would a browser send a cookie of Path `cookiePath` with a
 * request for `requestPath`? (A prefix on a "/" boundary: "/auth" matches "/auth/x", not "/authn".)
 */
export function cookiePathMatches(cookiePath: string, requestPath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** The Path attribute of one Set-Cookie line (exactly as sent), or null without one. */
export function cookiePathOf(raw: string): string | null {
  const attr = raw.split(/;\s*/).slice(1).find((a) => /^path=/i.test(a));
  return attr === undefined ? null : attr.slice('path='.length);
}
