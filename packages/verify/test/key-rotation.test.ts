/**
 * Key rotation end to end: the real server process, `latchkey keys rotate` run as a CLI process on
 * the same SQLite file, and a Fastify service protected by @latchkey/verify in this process. The
 * service is never restarted: it accepts tokens of the new key as soon as the server signs with
 * it, and keeps accepting tokens of the old key until they expire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import latchkeyVerify from '../src/fastify.js';

const CLI = fileURLToPath(new URL('../../server/bin/latchkey.js', import.meta.url));
const ISSUER = 'http://latchkey.rotation';
const PASSWORD = 'correct horse battery staple';

let dir: string;
let env: Record<string, string>;
let server: ChildProcess;
let serverUrl: string;
let serverOutput = '';
let service: FastifyInstance;
let serviceUrl: string;
/** Added to the service's clock, to look at it from a later moment. */
let clockOffsetMs = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${serverOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const decode = (token: string, i: 0 | 1) => JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8')) as Record<string, unknown>;

async function login(email: string): Promise<string> {
  const res = await fetch(`${serverUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function publishedKids(): Promise<string[]> {
  const res = await fetch(`${serverUrl}/.well-known/jwks.json`);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

const callService = (token: string) => fetch(`${serviceUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url)))) {
    throw new Error('packages/server/dist is missing: run `npm run build` first (npm test does)');
  }
  dir = mkdtempSync(join(tmpdir(), 'latchkey-rotation-'));
  const port = await freePort();
  env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir, 'latchkey.db')}`,
    ISSUER,
    JWT_ALG: 'RS256',
    KEY_RELOAD_INTERVAL: '1s',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_ENABLED: 'false',
  };
  server = spawn(process.execPath, [CLI, 'serve'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (c: Buffer) => (serverOutput += c.toString()));
  server.stderr!.on('data', (c: Buffer) => (serverOutput += c.toString()));
  serverUrl = `http://127.0.0.1:${port}`;
  await until('the server', async () => ((await fetch(`${serverUrl}/health/live`)).ok ? true : undefined));

  service = Fastify();
  await service.register(latchkeyVerify, {
    issuer: ISSUER,
    audience: 'latchkey',
    jwksUrl: `${serverUrl}/.well-known/jwks.json`,
    jwksCooldownMs: 1000,
    leewaySeconds: 0,
    clock: () => Date.now() + clockOffsetMs,
  });
  service.get('/orders', { config: { auth: true } }, async (request) => ({ owner: request.auth!.sub }));
  await service.listen({ port: 0, host: '127.0.0.1' });
  serviceUrl = `http://127.0.0.1:${(service.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await service?.close();
  if (server && server.exitCode === null && server.signalCode === null) {
    const gone = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await gone;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('key rotation end to end', () => {
  it('a running verify-protected service follows `latchkey keys rotate` without a restart', async () => {
    const email = 'rotation@example.com';
    const reg = await fetch(`${serverUrl}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(reg.status).toBe(201);
    const userId = ((await reg.json()) as { user: { id: string } }).user.id;

    const oldToken = await login(email);
    const oldKid = decode(oldToken, 0).kid as string;
    expect((await callService(oldToken)).status).toBe(200);
    const verifier = service.latchkeyVerifier;
    expect(verifier.stats.jwksFetches).toBe(1);

    // Rotate from another process, on the same database.
    const rotated = await runCli(['keys', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = /new active key (\S+)/.exec(rotated.stdout)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);

    // The server picks the new key up within KEY_RELOAD_INTERVAL and keeps the old one published.
    const kids = await until('the server to publish the new key', async () => {
      const published = await publishedKids();
      return published.includes(newKid!) ? published : undefined;
    });
    expect(kids).toContain(oldKid);

    // A new token, in a later second than the old one (so it expires later too).
    const oldIat = decode(oldToken, 1).iat as number;
    await until('the next second', async () => (Math.floor(Date.now() / 1000) > oldIat ? true : undefined));
    const newToken = await login(email);
    expect(decode(newToken, 0).kid).toBe(newKid);

    // The service refetches at most once per cooldown; make sure that window has passed.
    const lastFetch = verifier.stats.jwksFetchedAt!;
    const wait = lastFetch + 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    const fresh = await callService(newToken);
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toEqual({ owner: userId });
    expect(verifier.stats.jwksFetches).toBe(2);
    expect((await callService(oldToken)).status).toBe(200);

    // Known kids: no network call per request.
    for (let i = 0; i < 25; i++) {
      expect((await callService(newToken)).status).toBe(200);
      expect((await callService(oldToken)).status).toBe(200);
    }
    expect(verifier.stats.jwksFetches).toBe(2);

    // Seen from the moment the old token expires: it is refused (even though it is in the
    // verified-token cache), the new one still passes.
    const oldExp = decode(oldToken, 1).exp as number;
    clockOffsetMs = oldExp * 1000 - Date.now();
    const expired = await callService(oldToken);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect((await callService(newToken)).status).toBe(200);
  });
});
