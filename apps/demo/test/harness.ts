import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startSmtp, type TestSmtp } from '../../../packages/server/test/support/email.js';
import { createTestApp, tempDir, type TestApp, type TestClock } from '../../../packages/server/test/support/helpers.js';
import { CHROMIUM_ARGS, LOCALHOST_TO_LOOPBACK } from '../../../packages/server/test/support/chromium.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RESULTS_DIR = join(REPO_ROOT, 'test-results');

/** One /auth request as the same-origin proxy saw it. Times are performance.now() ms. */
export interface AuthExchange {
  method: string;
  path: string;
  status: number;
  code: string | null;
  /** The access token a login/refresh answered with. */
  issuedAccessToken: string | null;
  /** The bearer token the request carried. */
  bearer: string | null;
  startedAt: number;
  endedAt: number;
}

export interface DemoHarness {
  url: string;
  browser: Browser;
  server: TestApp;
  exchanges: AuthExchange[];
  /** The SMTP server Latchkey mails to, when started with `{ mail: true }`. */
  mail: TestSmtp | null;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Builds the demo with Vite into `outDir` (the production bundle, as a user would deploy it). */
async function buildDemo(outDir: string): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(REPO_ROOT, 'apps', 'demo', 'vite.config.ts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    { cwd: REPO_ROOT, timeout: 120_000 },
  );
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => done(Buffer.concat(chunks)));
    stream.on('error', fail);
  });
}

/**
 * The deployment the README recommends, in miniature: the built app and Latchkey's /auth on one
 * origin. Static files from `outDir`; /auth/* forwarded to Latchkey with the Host header kept
 * (Latchkey compares Origin with it on cookie requests). Every /auth exchange is recorded.
 */
function sameOriginProxy(outDir: string, latchkeyPort: () => number, exchanges: AuthExchange[]): Server {
  const root = resolve(outDir);
  const serveStatic = (pathname: string, res: ServerResponse) => {
    let file = resolve(root, `.${decodeURIComponent(pathname)}`);
    if (!file.startsWith(root + sep) || !existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(file));
  };

  const forward = async (req: IncomingMessage, res: ServerResponse, pathname: string) => {
    const startedAt = performance.now();
    const body = await readBody(req);
    const upstream = await new Promise<IncomingMessage>((done, fail) => {
      const out = httpRequest({ host: '127.0.0.1', port: latchkeyPort(), method: req.method, path: req.url, headers: req.headers }, done);
      out.on('error', fail);
      out.end(body);
    });
    const answer = await readBody(upstream);
    const exchange: AuthExchange = {
      method: req.method ?? 'GET',
      path: pathname,
      status: upstream.statusCode ?? 0,
      code: null,
      issuedAccessToken: null,
      bearer: /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null,
      startedAt,
      endedAt: 0,
    };
    if ((upstream.headers['content-type'] ?? '').includes('json') && answer.length > 0) {
      const json = JSON.parse(answer.toString('utf8')) as { code?: string; access_token?: string };
      exchange.code = json.code ?? null;
      exchange.issuedAccessToken = json.access_token ?? null;
    }
    res.writeHead(upstream.statusCode ?? 502, upstream.headers);
    res.end(answer, () => {
      exchange.endedAt = performance.now();
      exchanges.push(exchange);
    });
  };

  return createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
    if (pathname === '/auth' || pathname.startsWith('/auth/')) {
      forward(req, res, pathname).catch(() => {
        res.writeHead(502).end();
      });
    } else {
      serveStatic(pathname, res);
    }
  });
}

/**
 * One Vite build per test file, shared by every harness it starts (a build takes seconds of a
 * shared CPU); removed when the last of them closes.
 */
let sharedBuild: { ready: Promise<string>; users: number; cleanup: () => void } | null = null;

function acquireBuild(): Promise<string> {
  if (!sharedBuild) {
    const build = tempDir('latchkey-demo-build-');
    sharedBuild = { ready: buildDemo(build.dir).then(() => build.dir), users: 0, cleanup: build.cleanup };
  }
  sharedBuild.users += 1;
  return sharedBuild.ready;
}

function releaseBuild(): void {
  if (!sharedBuild) return;
  sharedBuild.users -= 1;
  if (sharedBuild.users === 0) {
    sharedBuild.cleanup();
    sharedBuild = null;
  }
}

/**
 * Builds the demo, starts Latchkey (real SQLite file) and the proxy, launches Debian's Chromium.
 * APP_URL is the proxy's URL, so the mailed links open the demo. With `mail: true` Latchkey sends
 * real mail over SMTP to an smtp-server on 127.0.0.1 (`harness.mail.received`).
 */
/**
 * A server clock that follows real time (the browser's) and can be stepped ahead, past a cooldown
 * the test would otherwise sleep through. Stepping ahead only: cookies and tokens stay valid.
 */
export function realTimeClockAhead(): TestClock {
  let ahead = 0;
  const clock = (() => Date.now() + ahead) as TestClock;
  clock.set = (ms) => {
    ahead = ms - Date.now();
  };
  clock.advance = (ms) => {
    ahead += ms;
  };
  return clock;
}

export async function startDemo(
  env: Record<string, string>,
  /**
   * `port`: the page's port, chosen beforehand (a provider must know Latchkey's callback URL,
   * ISSUER + /auth/oauth/<id>/callback, before the demo starts; see social.test.ts).
   */
  opts: { mail?: boolean; clock?: TestClock; passkeys?: boolean; port?: number } = {},
): Promise<DemoHarness> {
  const outDir = await acquireBuild();
  const exchanges: AuthExchange[] = [];
  let latchkeyPort = 0;
  const proxy = sameOriginProxy(outDir, () => latchkeyPort, exchanges);
  await new Promise<void>((done) => proxy.listen(opts.port ?? 0, '127.0.0.1', done));
  // Passkeys: a WebAuthn RP ID is a host name, never an IP address, so the browser opens the demo
  // as http://localhost:<port> (a secure context, as 127.0.0.1 is) and the RP ID is localhost.
  const host = opts.passkeys ? 'localhost' : '127.0.0.1';
  const url = `http://${host}:${(proxy.address() as AddressInfo).port}`;
  const mail = opts.mail ? await startSmtp() : null;
  const server = await createTestApp({
    COOKIE_SECURE: 'false',
    LOG_LEVEL: 'silent',
    APP_URL: url,
    ...(mail ? { SMTP_URL: mail.url } : {}),
    ...(opts.passkeys ? { WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: url } : {}),
    ...env,
  }, { clock: opts.clock });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  latchkeyPort = (server.app.server.address() as AddressInfo).port;
  // localhost straight to the proxy's IPv4 address (it listens on 127.0.0.1 only, not on ::1).
  const args = opts.passkeys ? [...CHROMIUM_ARGS, LOCALHOST_TO_LOOPBACK] : [...CHROMIUM_ARGS];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args });
  return {
    url,
    browser,
    server,
    exchanges,
    mail,
    async close() {
      await browser.close();
      proxy.closeAllConnections();
      await new Promise<void>((done) => proxy.close(() => done()));
      await server.close();
      await mail?.close();
      releaseBuild();
    },
  };
}

/**
 * Runs `fn` in a fresh browser profile (a new context: its own cookies, storage and locks).
 * On failure every open page is screenshotted to test-results/e2e/<name>-<n>.png.
 */
export async function inFreshProfile(browser: Browser, name: string, fn: (context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  try {
    await fn(context);
  } catch (error) {
    const dir = join(RESULTS_DIR, 'e2e');
    mkdirSync(dir, { recursive: true });
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    let n = 0;
    for (const page of context.pages()) {
      n += 1;
      await page.screenshot({ path: join(dir, `${slug}-${n}.png`), fullPage: true }).catch(() => undefined);
    }
    throw error;
  } finally {
    await context.close();
  }
}

export function screenshotPath(name: string): string {
  const dir = join(RESULTS_DIR, 'demo');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}

/** The `exp` claim (epoch ms) of a JWT, read without verification. */
export function expiryOf(jwt: string): number {
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return claims.exp * 1000;
}
