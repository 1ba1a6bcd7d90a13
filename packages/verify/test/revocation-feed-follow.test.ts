/**
 * The revocation feed end to end: real `latchkey serve` processes (two instances on one
 * PostgreSQL database, and one on SQLite) and a Fastify service protected by @latchkey/verify in
 * this process, following instance B's feed. A logout through instance A must reach the service;
 * the service must catch up from its cursor when B restarts, and from the start when it restarts
 * itself; the feed's outage is handled as the policy says. Waits are bounded by a deadline, never
 * asserted as durations.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The type of inject('postgresUrl'), declared by the global setup that provides it.
import type {} from '../../server/test/support/global-setup.js';
import { createTestDatabase, dropTestDatabase } from '../../server/test/support/postgres.js';
import { freePort, postJson, startServer, type ServerProcess } from '../../server/test/support/server-process.js';
import latchkeyVerify from '../src/fastify.js';
import type { RevocationOptions } from '../src/index.js';
import { eventually } from './feed-server.js';

const ISSUER = 'http://latchkey.feed.test';
const FEED_TOKEN = 'feed-token-for-the-follow-test-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
/** Generous: the contract is "within a second"; the wait only bounds a failure. */
const WAIT_MS = 10_000;

let dir: string;
let databaseUrl: string;
let a: ServerProcess;
let b: ServerProcess;
let bPort: number;
const apps: FastifyInstance[] = [];
let seq = 0;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { DATABASE_URL: databaseUrl, ISSUER, REVOCATION_FEED_TOKEN: FEED_TOKEN, ...extra };
}

/** A verify-protected service following `feedBase`'s feed, with its clock `offset` ms ahead. */
async function service(feedBase: string, revocations: Partial<RevocationOptions> = {}, clock?: () => number): Promise<{ app: FastifyInstance; logs: string[] }> {
  const logs: string[] = [];
  const app = Fastify();
  await app.register(latchkeyVerify, {
    issuer: ISSUER,
    audience: 'latchkey',
    jwksUrl: `${feedBase}/.well-known/jwks.json`,
    ...(clock ? { clock } : {}),
    revocations: { url: `${feedBase}/auth/revocations`, token: FEED_TOKEN, reconnectMaxMs: 300, log: (m) => logs.push(m), ...revocations },
  });
  app.get('/orders', { config: { auth: true } }, async (request) => ({ sub: request.auth!.sub }));
  await app.ready();
  apps.push(app);
  return { app, logs };
}

async function status(app: FastifyInstance, token: string): Promise<number> {
  return (await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })).statusCode;
}

async function user(base: string): Promise<{ email: string; login: () => Promise<string> }> {
  const email = `feed-${++seq}-${Date.now()}@example.com`;
  const reg = await postJson(`${base}/auth/register`, { email, password: PASSWORD });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  return {
    email,
    login: async () => {
      const res = await postJson(`${base}/auth/login`, { email, password: PASSWORD });
      if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.access_token as string;
    },
  };
}

async function logout(base: string, token: string): Promise<void> {
  const res = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 204) throw new Error(`logout: ${res.status} ${await res.text()}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-feed-follow-'));
  databaseUrl = await createTestDatabase('latchkey_feed_follow');
  a = await startServer(env(), { cwd: dir, readyTimeoutMs: 60_000 });
  bPort = await freePort();
  b = await startServer(env({ PORT: String(bPort) }), { cwd: dir, readyTimeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  for (const app of apps) await app.close();
  await a?.stop();
  await b?.stop();
  if (databaseUrl) await dropTestDatabase(databaseUrl);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a verify-protected service following the feed of another instance (PostgreSQL)', () => {
  it('refuses a token once its session is logged out through the other instance', async () => {
    const { app } = await service(b.url);
    await app.latchkeyVerifier.revocationsReady();
    const u = await user(a.url);
    const [gone, kept] = [await u.login(), await u.login()];
    expect(await status(app, gone)).toBe(200);
    await logout(a.url, gone);
    await eventually('the logged-out token is refused', async () => (await status(app, gone)) === 401, WAIT_MS);
    const res = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${gone}` } });
    expect(res.headers['www-authenticate']).toContain('The access token has been revoked');
    expect(await status(app, kept)).toBe(200);
    // logout-all through A: the user's other token goes too.
    const third = await u.login();
    const all = await fetch(`${a.url}/auth/logout-all`, { method: 'POST', headers: { authorization: `Bearer ${third}` } });
    expect(all.status).toBe(204);
    await eventually('every token of the user is refused', async () => (await status(app, kept)) === 401 && (await status(app, third)) === 401, WAIT_MS);
  });

  it('catches up from its cursor when the instance it follows restarts during revocations', async () => {
    const { app } = await service(b.url);
    await app.latchkeyVerifier.revocationsReady();
    await eventually('the stream is open', () => app.latchkeyVerifier.stats.revocations!.connected, WAIT_MS);
    const u = await user(a.url);
    const tokens = [await u.login(), await u.login(), await u.login()];
    for (const t of tokens) expect(await status(app, t)).toBe(200);
    await logout(a.url, tokens[0]!);
    await eventually('the first logout arrived', async () => (await status(app, tokens[0]!)) === 401, WAIT_MS);
    const connections = app.latchkeyVerifier.stats.revocations!.streamConnections;
    await b.stop();
    // Revoked while the followed instance is down.
    await logout(a.url, tokens[1]!);
    await logout(a.url, tokens[2]!);
    b = await startServer(env({ PORT: String(bPort) }), { cwd: dir, readyTimeoutMs: 60_000 });
    await eventually(
      'both revocations made during the restart are refused',
      async () => (await status(app, tokens[1]!)) === 401 && (await status(app, tokens[2]!)) === 401,
      WAIT_MS,
    );
    expect(app.latchkeyVerifier.stats.revocations!.streamConnections).toBeGreaterThan(connections);
  });

  it('a service restarted during revocations refuses what was revoked before and while it was down', async () => {
    const first = await service(b.url);
    await first.app.latchkeyVerifier.revocationsReady();
    const u = await user(a.url);
    const [early, late, live] = [await u.login(), await u.login(), await u.login()];
    await logout(a.url, early);
    await first.app.close();
    await logout(a.url, late);
    const second = await service(b.url);
    await second.app.latchkeyVerifier.revocationsReady();
    expect(await status(second.app, early)).toBe(401);
    expect(await status(second.app, late)).toBe(401);
    expect(await status(second.app, live)).toBe(200);
  });

  it("feed outage: 'keep' goes on verifying (logged once); refuseAfterSeconds answers 503 past N s without contact, until the feed is back", async () => {
    let offset = 0;
    const keep = await service(b.url);
    const strict = await service(b.url, { onFeedUnavailable: { refuseAfterSeconds: 30 } }, () => Date.now() + offset);
    await keep.app.latchkeyVerifier.revocationsReady();
    await strict.app.latchkeyVerifier.revocationsReady();
    const u = await user(a.url);
    const token = await u.login();
    expect(await status(keep.app, token)).toBe(200);
    expect(await status(strict.app, token)).toBe(200);
    await b.stop();
    await eventually('the outage is logged', () => keep.logs.some((l) => l.includes('revocation feed unavailable')), WAIT_MS);
    offset = 31_000;
    expect(await status(keep.app, token)).toBe(200);
    const refused = await strict.app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    b = await startServer(env({ PORT: String(bPort) }), { cwd: dir, readyTimeoutMs: 60_000 });
    await eventually('accepted again once the feed answers', async () => (await status(strict.app, token)) === 200, WAIT_MS);
    await eventually('the recovery is logged', () => keep.logs.some((l) => l.includes('reachable again')), WAIT_MS);
    expect(keep.logs.filter((l) => l.includes('revocation feed unavailable'))).toHaveLength(1);
  });
});

describe('one instance on SQLite', () => {
  it('refuses a token once its session is logged out', async () => {
    const sqlite = await startServer({ DATABASE_URL: `sqlite:${join(dir, 'feed.db')}`, ISSUER, REVOCATION_FEED_TOKEN: FEED_TOKEN }, { cwd: dir, readyTimeoutMs: 60_000 });
    try {
      const { app } = await service(sqlite.url);
      await app.latchkeyVerifier.revocationsReady();
      const u = await user(sqlite.url);
      const token = await u.login();
      expect(await status(app, token)).toBe(200);
      await logout(sqlite.url, token);
      await eventually('the logged-out token is refused', async () => (await status(app, token)) === 401, WAIT_MS);
      await app.close();
    } finally {
      await sqlite.stop();
    }
  });
});
