/**
 * The FastAPI example (examples/fastapi, docs/fastapi.md) following Latchkey's revocation feed:
 * two real `latchkey serve` instances on one PostgreSQL database, uvicorn running app.py with
 * LATCHKEY_REVOCATION_FEED_TOKEN and following instance B. A logout through instance A must make
 * the service refuse the token; the service catches up from its cursor across B's restart, and
 * from the start when it restarts itself; while the feed is down it keeps verifying ('keep', the
 * default) and logs the outage once. The pieces that need a clock or split chunks (the SSE
 * parser, refuse_after) are checked with Debian's python3 directly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';
import { freePort, postJson, startServer, type ServerProcess } from '../support/server-process.js';

const PYTHON = '/usr/bin/python3';
const FASTAPI_DIR = fileURLToPath(new URL('../../../../examples/fastapi', import.meta.url));
const ISSUER = 'http://latchkey.fastapi-feed';
const FEED_TOKEN = 'feed-token-for-the-fastapi-test-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const WAIT_MS = 15_000;

let dir: string;
let databaseUrl: string;
let a: ServerProcess;
let b: ServerProcess;
let bPort: number;
const uvicorns: ChildProcess[] = [];

const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: databaseUrl, ISSUER, REVOCATION_FEED_TOKEN: FEED_TOKEN, ...extra });

async function eventually(what: string, check: () => Promise<boolean>, output: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`still not true after ${WAIT_MS} ms: ${what}\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** uvicorn running app.py, following B's feed; resolves once it listens (after its start-up read the backlog). */
async function startApi(): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(PYTHON, ['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', '0', '--app-dir', FASTAPI_DIR], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PYTHONDONTWRITEBYTECODE: '1',
      LATCHKEY_ISSUER: ISSUER,
      LATCHKEY_URL: b.url,
      LATCHKEY_REVOCATION_FEED_TOKEN: FEED_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  uvicorns.push(child);
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`uvicorn did not start:\n${log}`)), 30_000);
    const onData = () => {
      const m = /Uvicorn running on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`uvicorn exited (${code}):\n${log}`));
    });
  });
  return {
    url,
    output: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function orders(api: string, token: string): Promise<Response> {
  return fetch(`${api}/orders`, { headers: { authorization: `Bearer ${token}` } });
}

let seq = 0;
async function login(times: number): Promise<string[]> {
  const email = `fastapi-feed-${++seq}-${Date.now()}@example.com`;
  const reg = await postJson(`${a.url}/auth/register`, { email, password: PASSWORD });
  if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
  const out: string[] = [];
  for (let i = 0; i < times; i++) {
    const res = await postJson(`${a.url}/auth/login`, { email, password: PASSWORD });
    if (res.status !== 200) throw new Error(`login: ${res.status}`);
    out.push(res.body.access_token as string);
  }
  return out;
}

async function logout(token: string): Promise<void> {
  const res = await fetch(`${a.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 204) throw new Error(`logout: ${res.status}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-fastapi-feed-'));
  databaseUrl = await createTestDatabase('latchkey_fastapi_feed');
  a = await startServer(env(), { cwd: dir, readyTimeoutMs: 60_000 });
  bPort = await freePort();
  b = await startServer(env({ PORT: String(bPort) }), { cwd: dir, readyTimeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  for (const u of uvicorns) if (u.exitCode === null && u.signalCode === null) u.kill('SIGTERM');
  await a?.stop();
  await b?.stop();
  if (databaseUrl) await dropTestDatabase(databaseUrl);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the FastAPI example following the revocation feed', () => {
  it('refuses a token once its session is logged out through another instance', async () => {
    const api = await startApi();
    try {
      const [gone, kept] = await login(2);
      expect((await orders(api.url, gone!)).status).toBe(200);
      await logout(gone!);
      await eventually('the logged-out token is refused', async () => (await orders(api.url, gone!)).status === 401, api.output);
      const res = await orders(api.url, gone!);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="The access token has been revoked"');
      expect((await orders(api.url, kept!)).status).toBe(200);
      expect(api.output()).toContain('latchkey_auth: access token refused: revoked');
      expect(api.output()).not.toContain(FEED_TOKEN);
    } finally {
      await api.stop();
    }
  });

  it('catches up from its cursor across a restart of the followed instance, and keeps verifying while it is down', async () => {
    const api = await startApi();
    try {
      const tokens = await login(3);
      await logout(tokens[0]!);
      await eventually('the first logout arrived', async () => (await orders(api.url, tokens[0]!)).status === 401, api.output);
      await b.stop();
      await logout(tokens[1]!);
      // 'keep': the feed is down, a live token still passes, a known revoked one is still refused.
      await eventually('the outage is logged', async () => api.output().includes('revocation feed unavailable'), api.output);
      expect((await orders(api.url, tokens[2]!)).status).toBe(200);
      expect((await orders(api.url, tokens[0]!)).status).toBe(401);
      b = await startServer(env({ PORT: String(bPort) }), { cwd: dir, readyTimeoutMs: 60_000 });
      await eventually('the logout made during the restart is refused', async () => (await orders(api.url, tokens[1]!)).status === 401, api.output);
      await eventually('the recovery is logged', async () => api.output().includes('reachable again'), api.output);
      expect(api.output().split('revocation feed unavailable').length - 1).toBe(1);
      expect((await orders(api.url, tokens[2]!)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  it('a service restarted during revocations refuses what was revoked while it was down', async () => {
    const first = await startApi();
    const [early, late, live] = await login(3);
    await logout(early!);
    await first.stop();
    await logout(late!);
    const second = await startApi();
    try {
      // Its start-up read the backlog before uvicorn listened.
      expect((await orders(second.url, early!)).status).toBe(401);
      expect((await orders(second.url, late!)).status).toBe(401);
      expect((await orders(second.url, live!)).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});

describe('latchkey_auth.py, its parts (Debian python3)', () => {
  const run = (code: string) => {
    const res = spawnSync(PYTHON, ['-c', code], { cwd: FASTAPI_DIR, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, timeout: 30_000 });
    return { status: res.status, out: `${res.stdout}${res.stderr}` };
  };

  it('SseParser: any split of the chunks, LF / CRLF / CR, multi-line data, comments, id without data, cut-off events', () => {
    const { status, out } = run(`
from latchkey_auth import SseParser
s = 'retry: 1000\\n\\n: hb\\n\\nid: c1\\nevent: revocation\\ndata: a\\n\\nid: c2\\r\\nevent: revocation\\r\\ndata: b\\r\\ndata: c\\r\\n\\r\\nid: c3\\revent: x\\rdata: d\\r\\r'
for cut in range(len(s) + 1):
    p = SseParser()
    out = p.push(s[:cut]) + p.push(s[cut:])
    assert out == [('revocation', 'a', 'c1'), ('revocation', 'b\\nc', 'c2'), ('x', 'd', 'c3')], (cut, out)
    assert p.last_event_id == 'c3' and p.retry == 1000
p = SseParser(); p.push('id: 9\\n\\n'); assert p.last_event_id == '9'
p = SseParser(); p.push('id: 1\\ndata: x\\n\\nid: 2\\ndata: y'); assert p.last_event_id == '1'
print('ok')
`);
    expect(out).toContain('ok');
    expect(status).toBe(0);
  });

  it('RevocationFollower: revoked sessions and users, exp sweep, refuse_after', () => {
    const { status, out } = run(`
import time
from latchkey_auth import InvalidToken, RevocationFollower, RevocationsUnavailable
now = time.time()
f = RevocationFollower('http://127.0.0.1:1/auth/revocations', 'token')
f.apply({'type': 'session', 'sid': 's1', 'exp': now + 100, 'cursor': '1'})
f.apply({'type': 'user', 'sub': 'u1', 'before': now, 'exp': now + 10, 'cursor': '2'})
f.apply({'type': 'unknown', 'exp': now + 10})
def refused(claims):
    try:
        f.check(claims)
        return None
    except InvalidToken as e:
        return str(e)
assert refused({'sid': 's1', 'sub': 'x', 'iat': now}) == 'revoked'
assert refused({'sid': 's2', 'sub': 'u1', 'iat': now - 1}) == 'revoked'
assert refused({'sid': 's2', 'sub': 'u1', 'iat': now}) is None
f.sweep(now + 50)
assert (f.revoked_sessions, f.revoked_users) == (1, 0)
f.sweep(now + 101)
assert (f.revoked_sessions, f.revoked_users) == (0, 0)
try:
    RevocationFollower('http://x', 'token', refuse_after=10)
    raise SystemExit('refuse_after=10 accepted')
except ValueError:
    pass
g = RevocationFollower('http://x', 'token', refuse_after=30)
def unavailable():
    try:
        g.check({'sid': 's', 'sub': 'u', 'iat': now})
        return False
    except RevocationsUnavailable:
        return True
assert unavailable()  # not read yet
g.caught_up, g.last_contact = True, time.time()
assert not unavailable()
g.last_contact = time.time() - 31
assert unavailable()
print('ok')
`);
    expect(out).toContain('ok');
    expect(status).toBe(0);
  });
});
