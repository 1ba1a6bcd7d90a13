/**
 * The admin console as the server serves it (features/console): /console/ and its assets from the
 * build in packages/server/console (needs `npm run build`), with the page's security and cache
 * headers, compression chosen per request, no way out of the file map however a path is encoded,
 * CONSOLE_ENABLED=false, embedded mode (off unless the host opts in, under the host's prefix),
 * the packed package and the real `latchkey serve` process. The console in a browser:
 * packages/console/test/console-e2e.test.ts.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { CONSOLE_CSP, consoleRoutes, acceptsEncoding } from '../../../src/features/console/routes.js';
import { latchkey } from '../../../src/plugin.js';
import { createTestApp, tempDir, type TestApp } from '../../support/helpers.js';
import { startServer } from '../../support/server-process.js';

const SERVER_DIR = fileURLToPath(new URL('../../..', import.meta.url));
const BUILT = join(SERVER_DIR, 'console');

/** The directives of a CSP header, by name. */
function directives(csp: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out[name.toLowerCase()] = values;
  }
  return out;
}

/** A GET with the path sent byte for byte (fetch and URL() would resolve `..` before sending). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

let t: TestApp;
let index: string;
let assets: string[];
beforeAll(async () => {
  t = await createTestApp();
  const res = await t.app.inject({ method: 'GET', url: '/console/' });
  expect(res.statusCode, 'packages/server/console is missing: run `npm run build`').toBe(200);
  index = res.body;
  assets = [...index.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
});
afterAll(async () => {
  await t?.close();
});

describe('the standalone server serves the console at /console/', () => {
  it('redirects /console to /console/ with a relative Location (it stays below any mount prefix)', async () => {
    for (const url of ['/console', '/console?x=https://evil.example']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(308);
      expect(res.headers.location, url).toBe('console/');
    }
  });

  it('answers the page with its CSP, no framing, nosniff, no-cache and an ETag', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/console/' });
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = directives(String(res.headers['content-security-policy']));
    expect(csp['default-src']).toEqual(["'none'"]);
    expect(csp['script-src']).toEqual(["'self'"]);
    expect(csp['style-src']).toEqual(["'self'"]);
    expect(csp['connect-src']).toEqual(["'self'"]);
    expect(csp['frame-ancestors']).toEqual(["'none'"]);
    expect(csp['form-action']).toEqual(["'none'"]);
    expect(csp['base-uri']).toEqual(["'none'"]);
    expect(csp['object-src']).toEqual(["'none'"]);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.etag).toMatch(/^"[\w-]{27}"$/);
    // The page a browser revalidates: unchanged, it is a 304 without a body.
    const again = await t.app.inject({ method: 'GET', url: '/console/', headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('has no inline script or style for the CSP to refuse: every script and style sheet is a file of the build', () => {
    expect(index).toMatch(/<script type="module" crossorigin src="\.\/assets\/index-[\w-]+\.js"><\/script>/);
    expect(index).toMatch(/<link rel="stylesheet" crossorigin href="\.\/assets\/index-[\w-]+\.css">/);
    for (const tag of index.match(/<script\b[^>]*>/g) ?? []) expect(tag).toContain(' src="./assets/');
    expect(index).not.toMatch(/<style\b/);
    expect(index).not.toMatch(/\sstyle=/);
    expect(index).not.toMatch(/\son[a-z]+=/i);
  });

  it('serves the hashed assets as immutable for a year, with their types and the same headers', async () => {
    expect(assets.length).toBeGreaterThanOrEqual(2);
    const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
    for (const asset of assets) {
      const res = await t.app.inject({ method: 'GET', url: `/console/${asset}` });
      expect(res.statusCode, asset).toBe(200);
      expect(res.headers['cache-control'], asset).toBe('public, max-age=31536000, immutable');
      expect(res.headers['content-type'], asset).toBe(types[asset.split('.').pop()!]);
      expect(res.headers['content-security-policy'], asset).toBe(CONSOLE_CSP);
      expect(res.headers['x-content-type-options'], asset).toBe('nosniff');
      expect(res.rawPayload.equals(readFileSync(join(BUILT, asset))), asset).toBe(true);
    }
  });

  it('sends the compressed copy the client accepts (brotli, then gzip), the same bytes once decoded', async () => {
    const script = assets.find((a) => a.endsWith('.js'))!;
    const plain = readFileSync(join(BUILT, script));
    const get = (encoding?: string) =>
      t.app.inject({ method: 'GET', url: `/console/${script}`, headers: encoding === undefined ? {} : { 'accept-encoding': encoding } });

    const br = await get('gzip, deflate, br, zstd');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toContain('accept-encoding');
    expect(br.rawPayload.length).toBeLessThan(plain.length / 2);
    expect(brotliDecompressSync(br.rawPayload).equals(plain)).toBe(true);

    const gz = await get('gzip, deflate');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).equals(plain)).toBe(true);
    expect((await get('br;q=0, gzip;q=0.5')).headers['content-encoding']).toBe('gzip');

    for (const encoding of [undefined, 'identity', 'deflate', 'br;q=0, gzip;q=0']) {
      const res = await get(encoding);
      expect(res.headers['content-encoding'], String(encoding)).toBeUndefined();
      expect(res.rawPayload.equals(plain), String(encoding)).toBe(true);
    }
    expect(acceptsEncoding('GZIP;Q=1', 'gzip')).toBe(true);
    expect(acceptsEncoding('xgzip', 'gzip')).toBe(false);
  });

  it('answers a path that is not a file of the console with 404 problem+json, however it is encoded', async () => {
    const attempts = [
      '/console/nope.js',
      '/console/index.html',
      '/console/assets/',
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/assets/..%2f..%2f..%2fpackage.json',
      '/console/..%5c..%5cpackage.json',
      '/console/....//....//package.json',
      '/console/%252e%252e%252fpackage.json',
      '/console//etc/passwd',
      '/console/%2fetc%2fpasswd',
      '/console/assets/index.js%00.css',
    ];
    for (const url of attempts) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toBe('application/problem+json; charset=utf-8');
      expect(res.json().code, url).toBe('NOT_FOUND');
      expect(res.body, url).not.toContain('@latchkey/server');
    }
  });

  it('is hidden from the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.includes('console'))).toEqual([]);
  });
});

describe('the file map', () => {
  const fixture = tempDir('latchkey-console-fixture-');
  const consoleDir = join(fixture.dir, 'console');
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    mkdirSync(join(consoleDir, 'assets'), { recursive: true });
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>fixture</title>');
    writeFileSync(join(consoleDir, 'assets', 'app-1234.js'), 'console.log(1)');
    writeFileSync(join(consoleDir, 'assets', 'notes.bak'), 'not a type the console serves');
    // Beside the console: what a traversal would be after.
    writeFileSync(join(fixture.dir, 'secret.txt'), 'SECRET-BESIDE-THE-CONSOLE');
    writeFileSync(join(consoleDir, 'assets', 'secret.txt.gz'), 'SECRET-COMPRESSED-COPY');
    app = Fastify();
    await app.register(consoleRoutes, { dir: consoleDir });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
    fixture.cleanup();
  });

  it('refuses every way out of the console directory, over real HTTP with the bytes as sent', async () => {
    const attempts = [
      '/console/../secret.txt',
      '/console/assets/../../secret.txt',
      '/console/..%2fsecret.txt',
      '/console/..%2Fsecret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/%2e%2e%2fsecret.txt',
      '/console/.%2e/secret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
      '/console/..\\secret.txt',
      '/console/..%5csecret.txt',
      '/console/%c0%ae%c0%ae/secret.txt',
      '/console/%252e%252e/secret.txt',
      '/console/assets/secret.txt',
      '/console/assets/secret.txt.gz',
      '/console/assets/notes.bak',
      `/console/${join(fixture.dir, 'secret.txt')}`,
    ];
    for (const path of attempts) {
      const res = await rawGet(port, path);
      expect([400, 404], path).toContain(res.status);
      expect(res.body, path).not.toContain('SECRET');
    }
    expect((await rawGet(port, '/console/assets/app-1234.js')).body).toBe('console.log(1)');
  });

  it('is read once, by the first request: no later request touches the file system', async () => {
    expect((await rawGet(port, '/console/')).status).toBe(200);
    rmSync(consoleDir, { recursive: true, force: true });
    const page = await rawGet(port, '/console/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>fixture</title>');
    expect((await rawGet(port, '/console/assets/app-1234.js')).status).toBe(200);
  });

  it('answers first requests that arrive together from one read', async () => {
    const fresh = Fastify();
    try {
      await fresh.register(consoleRoutes, { dir: BUILT });
      const answers = await Promise.all(['', ...assets, '', 'nope'].map((path) => fresh.inject({ method: 'GET', url: `/console/${path}` })));
      expect(answers.map((a) => a.statusCode)).toEqual([200, ...assets.map(() => 200), 200, 404]);
      expect(answers[0]!.body).toBe(index);
    } finally {
      await fresh.close();
    }
  });

  it('answers 404 with a reason, and logs a warning once, when the console was not built', async () => {
    const empty = tempDir('latchkey-console-empty-');
    const logs: string[] = [];
    const bare = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => void logs.push(line) } } });
    try {
      await bare.register(consoleRoutes, { dir: empty.dir });
      const res = await bare.inject({ method: 'GET', url: '/console/' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND', detail: 'The admin console is not built into this server.' });
      expect(logs.join('')).toContain('the admin console is not built into this server');
    } finally {
      await bare.close();
      empty.cleanup();
    }
  });
});

describe('CONSOLE_ENABLED', () => {
  it('false: no console, /console and /console/ are 404 problem+json like any unknown route', async () => {
    const off = await createTestApp({ CONSOLE_ENABLED: 'false' });
    try {
      for (const url of ['/console', '/console/', `/console/${assets[0]}`]) {
        const res = await off.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(404);
        expect(res.headers['content-type'], url).toBe('application/problem+json; charset=utf-8');
        expect(res.json().code, url).toBe('NOT_FOUND');
      }
      expect((await off.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await off.close();
    }
  });

  it('is validated: a value that is not a boolean stops start-up naming the variable', () => {
    expect(loadConfig({}).http.consoleEnabled).toBe(true);
    expect(loadConfig({ CONSOLE_ENABLED: 'off' }).http.consoleEnabled).toBe(false);
    expect(() => loadConfig({ CONSOLE_ENABLED: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ CONSOLE_ENABLED: 'maybe' })).toThrow(/^CONSOLE_ENABLED: /);
  });
});

describe('embedded: the host opts in, and the console lives under the prefix', () => {
  async function host(env: Record<string, string>, options: { console?: boolean }): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
    const dir = tempDir();
    const config = loadConfig({
      DATABASE_URL: `sqlite:${join(dir.dir, 'host.db')}`,
      LOG_LEVEL: 'silent',
      MAIL_OUTBOX_DIR: join(dir.dir, 'outbox'),
      ...env,
    });
    const app = Fastify();
    await app.register(latchkey, { config, prefix: '/identity', ...options });
    await app.ready();
    return {
      app,
      async close() {
        await app.close();
        dir.cleanup();
      },
    };
  }

  it('is off by default: a host that mounts Latchkey does not get a console it did not ask for', async () => {
    const h = await host({}, {});
    try {
      expect((await h.app.inject({ method: 'GET', url: '/identity/console/' })).statusCode).toBe(404);
      expect((await h.app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(404);
    } finally {
      await h.close();
    }
  });

  it('with `console: true` it is served at <prefix>/console/, and CONSOLE_ENABLED=false still turns it off', async () => {
    const on = await host({}, { console: true });
    try {
      const page = await on.app.inject({ method: 'GET', url: '/identity/console/' });
      expect(page.statusCode).toBe(200);
      expect(page.body).toBe(index);
      expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
      const redirect = await on.app.inject({ method: 'GET', url: '/identity/console' });
      expect(redirect.statusCode).toBe(308);
      expect(new URL(String(redirect.headers.location), 'https://shop.test/identity/console').pathname).toBe('/identity/console/');
      expect((await on.app.inject({ method: 'GET', url: `/identity/console/${assets[0]}` })).statusCode).toBe(200);
      expect((await on.app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(404);
    } finally {
      await on.close();
    }
    const off = await host({ CONSOLE_ENABLED: 'false' }, { console: true });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/identity/console/' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('the package', () => {
  it('`npm pack` of packages/server carries the built console', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: SERVER_DIR, timeout: 60_000 });
    const packed = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(packed).toContain('console/index.html');
    for (const asset of assets) expect(packed).toContain(`console/${asset}`);
    expect(packed.filter((p) => p.startsWith('console/assets/') && p.endsWith('.js.br'))).toHaveLength(1);
  });

  it('`latchkey serve` (the real process) serves it with no other step', async () => {
    const dir = tempDir();
    const server = await startServer({ DATABASE_URL: `sqlite:${join(dir.dir, 'serve.db')}`, MAIL_OUTBOX_DIR: join(dir.dir, 'outbox') });
    try {
      const res = await fetch(`${server.url}/console/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(index);
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      const script = await fetch(`${server.url}/console/${assets.find((a) => a.endsWith('.js'))}`, { headers: { 'accept-encoding': 'br' } });
      expect(script.status).toBe(200);
      expect(script.headers.get('content-encoding')).toBe('br');
      expect(await script.text()).toBe(readFileSync(join(BUILT, assets.find((a) => a.endsWith('.js'))!), 'utf8'));
    } finally {
      await server.stop();
      dir.cleanup();
    }
  });
});
