/**
 * Interoperability: tokens of the real server (started as a process from the CLI) verified by an
 * independent implementation, Debian's PyJWT, reading the JWKS over HTTP; and the FastAPI example
 * of docs/fastapi.md (examples/fastapi) run under uvicorn and called with valid, expired and
 * forged tokens.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, postJson, startServer, type ServerProcess } from '../support/server-process.js';

const PYTHON = '/usr/bin/python3';
const FASTAPI_DIR = fileURLToPath(new URL('../../../../examples/fastapi', import.meta.url));
const DOC = fileURLToPath(new URL('../../../../docs/fastapi.md', import.meta.url));
const PASSWORD = 'correct horse battery staple';
const ISSUER = 'http://latchkey.interop';
const AUDIENCE = 'latchkey';
type Alg = 'RS256' | 'ES256' | 'EdDSA';
const ALGS: Alg[] = ['RS256', 'ES256', 'EdDSA'];

/** PyJWT, on its own: fetches the JWKS with PyJWKClient, verifies each token from stdin. */
const PYJWT_SCRIPT = `
import json, sys, jwt
jwks_url, issuer, audience, alg, mode = sys.argv[1:6]
client = jwt.PyJWKClient(jwks_url)
results = []
for token in sys.stdin.read().split():
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=[alg], audience=audience, issuer=issuer,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": mode != "ignore-exp"})
        results.append({"ok": True, "header": jwt.get_unverified_header(token), "claims": claims})
    except Exception as err:
        results.append({"ok": False, "error": type(err).__name__})
print(json.dumps({"version": jwt.__version__, "results": results}))
`;

interface PyResult {
  ok: boolean;
  error?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

let dir: string;
let script: string;
const servers = new Map<Alg, ServerProcess>();
let shortLived: ServerProcess;
const cleanup: (() => Promise<unknown> | void)[] = [];

function pyjwt(jwksUrl: string, alg: Alg, tokens: string[], mode: 'strict' | 'ignore-exp' = 'strict'): { version: string; results: PyResult[] } {
  const run = spawnSync(PYTHON, [script, jwksUrl, ISSUER, AUDIENCE, alg, mode], {
    input: tokens.join('\n'),
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 30_000,
  });
  if (run.status !== 0) throw new Error(`python failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as { version: string; results: PyResult[] };
}

async function signUpAndLogin(server: ServerProcess, email: string): Promise<{ access: string; userId: string }> {
  const reg = await postJson(`${server.url}/auth/register`, { email, password: PASSWORD });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  return { access: await login(server, email), userId: (reg.body.user as { id: string }).id };
}

async function login(server: ServerProcess, email: string): Promise<string> {
  const res = await postJson(`${server.url}/auth/login`, { email, password: PASSWORD });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

function part(token: string, i: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Tokens a forger can make without the server's private key. */
async function forgeries(valid: string, jwks: { keys: JWK[] }): Promise<Record<string, string>> {
  const header = part(valid, 0);
  const payload = part(valid, 1);
  const [h, , s] = valid.split('.');
  const { privateKey } = await generateKeyPair('RS256');
  const rsaJwk = jwks.keys.find((k) => k.kty === 'RSA');
  const forged: Record<string, string> = {
    'tampered payload': `${h}.${b64({ ...payload, roles: ['admin'] })}.${s}`,
    'alg none': `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`,
    'stripped signature': `${h}.${b64(payload)}.`,
    'another key under the same kid': await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: header.kid as string, typ: 'at+jwt' }).sign(privateKey),
  };
  if (rsaJwk) {
    const pem = await exportSPKI((await importJWK(rsaJwk, 'RS256')) as CryptoKey);
    const input = `${b64({ alg: 'HS256', kid: rsaJwk.kid, typ: 'at+jwt' })}.${b64(payload)}`;
    forged['HS256 with the public key as secret'] = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
  }
  return forged;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-interop-'));
  script = join(dir, 'pyjwt_verify.py');
  writeFileSync(script, PYJWT_SCRIPT);
  const started = await Promise.all(
    ALGS.map((alg) =>
      startServer(
        { DATABASE_URL: `sqlite:${join(dir, `${alg}.db`)}`, ISSUER, AUDIENCE, JWT_ALG: alg, JWT_LEEWAY: '0' },
        { cwd: dir },
      ).then((s) => [alg, s] as const),
    ),
  );
  for (const [alg, s] of started) {
    servers.set(alg, s);
    cleanup.push(() => s.stop());
  }
  // A second instance on the RS256 database (same keys), issuing 1-second tokens: the source of
  // tokens that are valid in every respect but expired.
  shortLived = await startServer(
    { DATABASE_URL: `sqlite:${join(dir, 'RS256.db')}`, ISSUER, AUDIENCE, JWT_ALG: 'RS256', ACCESS_TOKEN_TTL: '1s', JWT_LEEWAY: '0' },
    { cwd: dir },
  );
  cleanup.push(() => shortLived.stop());
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PyJWT 2.6 (Debian python3-jwt) verifies Latchkey tokens from the JWKS', () => {
  it.each(ALGS)('%s', async (alg) => {
    const server = servers.get(alg)!;
    const { access, userId } = await signUpAndLogin(server, `py-${alg.toLowerCase()}@example.com`);
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    const forged = await forgeries(access, jwks);
    const out = pyjwt(`${server.url}/.well-known/jwks.json`, alg, [access, ...Object.values(forged)]);
    expect(out.version).toBe('2.6.0');
    const [valid, ...refused] = out.results;
    expect(valid, JSON.stringify(valid)).toMatchObject({
      ok: true,
      header: { alg, typ: 'at+jwt' },
      claims: { iss: ISSUER, aud: AUDIENCE, sub: userId },
    });
    expect(jwks.keys.map((k) => k.kid)).toContain(valid!.header!.kid);
    expect(jwks.keys.find((k) => k.kid === valid!.header!.kid)).toMatchObject({ alg, use: 'sig' });
    expect(valid!.claims).toHaveProperty('sid');
    expect(valid!.claims!.roles).toEqual([]);
    // The independent verifier is really checking: every forgery fails there too.
    Object.keys(forged).forEach((name, i) => {
      expect(refused[i], name).toMatchObject({ ok: false });
    });
  });
});

/** uvicorn running examples/fastapi/app.py with `env`; `output()` is everything it wrote so far. */
function spawnUvicorn(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(PYTHON, ['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', '0', '--app-dir', FASTAPI_DIR], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', LATCHKEY_AUDIENCE: AUDIENCE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  return { child, output: () => log };
}

describe('the FastAPI example (docs/fastapi.md) under uvicorn', () => {
  let uvicorn: ChildProcess;
  let uvicornLog: () => string;
  let api: string;
  let rs: ServerProcess;

  beforeAll(async () => {
    rs = servers.get('RS256')!;
    // LATCHKEY_URL: where the service reaches Latchkey (the issuer's host name is not resolvable
    // here); the JWKS URL defaults to its /.well-known/jwks.json.
    ({ child: uvicorn, output: uvicornLog } = spawnUvicorn({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_URL: rs.url, LATCHKEY_LEEWAY: '0' }));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          if (uvicorn.exitCode !== null || uvicorn.signalCode !== null) return resolve();
          uvicorn.once('exit', () => resolve());
          uvicorn.kill('SIGTERM');
        }),
    );
    api = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`uvicorn did not start:\n${uvicornLog()}`)), 30_000);
      const onData = () => {
        const m = /Uvicorn running on (http:\/\/127\.0\.0\.1:\d+)/.exec(uvicornLog());
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      uvicorn.stdout!.on('data', onData);
      uvicorn.stderr!.on('data', onData);
      uvicorn.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`uvicorn exited (${code}):\n${uvicornLog()}`));
      });
    });
  });

  const call = (token?: string, method = 'GET', path = '/orders') =>
    fetch(`${api}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('a valid token: 200 with the caller', async () => {
    const { access, userId } = await signUpAndLogin(rs, 'fastapi@example.com');
    const res = await call(access);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ owner: userId, roles: [], orders: [] });
  });

  it('no token: 401 with a bare Bearer challenge', async () => {
    const res = await call();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('forged tokens: 401 invalid_token', async () => {
    const access = await login(rs, 'fastapi@example.com');
    const jwks = (await (await fetch(`${rs.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    for (const [name, token] of Object.entries(await forgeries(access, jwks))) {
      const res = await call(token);
      expect(res.status, name).toBe(401);
      expect(res.headers.get('www-authenticate'), name).toBe('Bearer error="invalid_token"');
    }
  });

  it('an expired token: 401 invalid_token (and it was valid in every other respect)', async () => {
    // Issued by the second instance (ACCESS_TOKEN_TTL=1s) with the same keys.
    const expiring = await login(shortLived, 'fastapi@example.com');
    const exp = part(expiring, 1).exp as number;
    const wait = exp * 1000 + 1100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const res = await call(expiring);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const check = pyjwt(`${rs.url}/.well-known/jwks.json`, 'RS256', [expiring], 'ignore-exp');
    expect(check.results[0]).toMatchObject({ ok: true });
    expect(pyjwt(`${rs.url}/.well-known/jwks.json`, 'RS256', [expiring]).results[0]).toMatchObject({ ok: false, error: 'ExpiredSignatureError' });
  });

  it('roles: 403 insufficient_scope without admin', async () => {
    const access = await login(rs, 'fastapi@example.com');
    const res = await call(access, 'DELETE', '/orders/7');
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="admin"');
  });

  it('logs why each token was refused, never the token', async () => {
    const access = await login(rs, 'fastapi@example.com');
    const expiring = await login(shortLived, 'fastapi@example.com');
    const wait = (part(expiring, 1).exp as number) * 1000 + 1100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const [h, p, sig] = access.split('.');
    const refused = {
      expired: expiring,
      'bad signature': `${h}.${b64({ ...part(access, 1), roles: ['admin'] })}.${sig}`,
      'alg does not match the key': `${b64({ ...part(access, 0), alg: 'none' })}.${p}.`,
      'typ is not at+jwt': `${b64({ ...part(access, 0), typ: 'JWT' })}.${p}.${sig}`,
    };
    for (const token of Object.values(refused)) expect((await call(token)).status).toBe(401);
    for (const reason of Object.keys(refused)) expect(uvicornLog()).toContain(`latchkey_auth: access token refused: ${reason}`);
    for (const token of [access, ...Object.values(refused)]) expect(uvicornLog()).not.toContain(token.split('.')[2] || token.split('.')[1]!);
  });
});

describe('the FastAPI example checks Latchkey at start-up', () => {
  /** Starts the app with `env` and waits for it to exit (it must not start). */
  async function startupFailure(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const { child, output } = spawnUvicorn(env);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    clearTimeout(timer);
    expect(output()).not.toContain('Uvicorn running');
    return { code, output: output() };
  }

  it('a wrong LATCHKEY_ISSUER stops it with a message naming both issuers', async () => {
    const { code, output } = await startupFailure({ LATCHKEY_ISSUER: 'http://wrong.example', LATCHKEY_URL: servers.get('RS256')!.url });
    expect(code).not.toBe(0);
    expect(output).toContain(`says its issuer is '${ISSUER}', but this service expects 'http://wrong.example'`);
  });

  it('an unreachable Latchkey or JWKS stops it', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const noLatchkey = await startupFailure({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_URL: closed });
    expect(noLatchkey.code).not.toBe(0);
    expect(noLatchkey.output).toContain(`cannot read Latchkey's discovery document at ${closed}/.well-known/openid-configuration`);
    const noJwks = await startupFailure({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_URL: servers.get('RS256')!.url, LATCHKEY_JWKS_URL: `${closed}/jwks.json` });
    expect(noJwks.code).not.toBe(0);
    expect(noJwks.output).toContain(`cannot fetch the JWKS at ${closed}/jwks.json`);
  });

  it('a JWKS without a usable key stops it', async () => {
    // What an HS256 Latchkey publishes: no keys.
    const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}'));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
      const { code, output } = await startupFailure({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_URL: servers.get('RS256')!.url, LATCHKEY_JWKS_URL: url });
      expect(code).not.toBe(0);
      expect(output).toContain(`the JWKS at ${url} has no usable signing key`);
    } finally {
      await new Promise((resolve) => jwks.close(resolve));
    }
  });
});

describe('docs/fastapi.md', () => {
  it('shows only code that is in the tested example, verbatim', () => {
    const doc = readFileSync(DOC, 'utf8');
    const example = ['app.py', 'latchkey_auth.py'].map((f) => readFileSync(join(FASTAPI_DIR, f), 'utf8')).join('\n');
    const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const block of blocks) expect(example, block).toContain(block);
  });
});
