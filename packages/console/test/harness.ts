import { mkdirSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { CHROMIUM_ARGS } from '../../server/test/support/chromium.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RESULTS_DIR = join(REPO_ROOT, 'test-results');

/** One API call the console made, as Chromium saw it. Times are epoch ms. */
export interface ApiCall {
  method: string;
  path: string;
  status: number;
  startedAt: number;
  /** From the start of the request to the end of the response. */
  ms: number;
}

/** A CSP violation, page error or CSP console message seen in a page of the console. */
export interface PageProblem {
  kind: 'csp-violation' | 'page-error' | 'console';
  text: string;
  url: string;
}

export interface ConsoleHarness {
  /** The server's origin, e.g. http://127.0.0.1:40123. */
  origin: string;
  /** The console: `${origin}/console/`. */
  url: string;
  browser: Browser;
  server: TestApp;
  /** Every /auth and /admin call of every context opened through `inFreshProfile`. */
  calls: ApiCall[];
  /** Every CSP violation or page error of every such context; the tests expect none. */
  problems: PageProblem[];
  close(): Promise<void>;
}

/** The newest modification time under `path` (a file or a directory). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/**
 * The tests drive the console the server package carries (packages/server/console, copied there
 * by `npm run build`), not a build of their own: what ships is what is tested. A build older than
 * the console's or the SDK's sources would test old code, so it is refused with the fix.
 */
export function checkBuiltConsole(): void {
  const built = join(REPO_ROOT, 'packages', 'server', 'console', 'index.html');
  let builtAt: number;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    throw new Error('packages/server/console is missing: run `npm run build` first (npm test does)');
  }
  const sources = [
    join(REPO_ROOT, 'packages', 'console', 'src'),
    join(REPO_ROOT, 'packages', 'console', 'index.html'),
    join(REPO_ROOT, 'packages', 'client', 'src'),
  ];
  if (Math.max(...sources.map(newest)) > builtAt) {
    throw new Error('packages/server/console is older than the console or client sources: run `npm run build` first');
  }
}

/**
 * Starts a real Latchkey (real SQLite file, the console on by default) on a port of 127.0.0.1 and
 * launches Debian's Chromium. The console is on the server's own origin, as deployed, with the
 * default `Secure` cookies (Chromium accepts them from http://127.0.0.1, a potentially
 * trustworthy origin).
 */
export async function startConsole(env: Record<string, string> = {}): Promise<ConsoleHarness> {
  checkBuiltConsole();
  const server = await createTestApp({ LOG_LEVEL: 'silent', ...env });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS] });
  return {
    origin,
    url: `${origin}/console/`,
    browser,
    server,
    calls: [],
    problems: [],
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * Watches a context: its API calls go to `harness.calls`, and CSP violations (the page's
 * `securitypolicyviolation` events, reported by an init script, which Chromium runs outside the
 * page's CSP), uncaught page errors and CSP console messages go to `harness.problems`.
 */
async function watch(context: BrowserContext, harness: Pick<ConsoleHarness, 'calls' | 'problems'>): Promise<void> {
  await context.exposeBinding('__reportCspViolation', ({ page }, text: string) => {
    harness.problems.push({ kind: 'csp-violation', text, url: page.url() });
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as { __reportCspViolation: (t: string) => void }).__reportCspViolation;
      void report(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  context.on('weberror', (error) => harness.problems.push({ kind: 'page-error', text: String(error.error()), url: error.page()?.url() ?? '' }));
  context.on('console', (message) => {
    if (/Content Security Policy|Trusted Type/i.test(message.text())) {
      harness.problems.push({ kind: 'console', text: message.text(), url: message.page()?.url() ?? '' });
    }
  });
  context.on('requestfinished', (request) => {
    const url = new URL(request.url());
    if (!/\/(auth|admin)\//.test(url.pathname)) return;
    void request.response().then((response) => {
      const timing = request.timing();
      harness.calls.push({
        method: request.method(),
        path: url.pathname,
        status: response?.status() ?? 0,
        startedAt: timing.startTime,
        ms: Math.round(timing.responseEnd),
      });
    });
  });
}

/**
 * Runs `fn` in a fresh browser profile (a new context: its own cookies, storage and locks),
 * watched (see `watch`). On failure every open page is screenshotted to test-results/e2e/<name>-<n>.png.
 */
export async function inFreshProfile(
  harness: ConsoleHarness,
  name: string,
  fn: (context: BrowserContext) => Promise<void>,
  options: BrowserContextOptions = {},
): Promise<void> {
  const context = await harness.browser.newContext(options);
  context.setDefaultTimeout(15_000);
  await watch(context, harness);
  try {
    await fn(context);
  } catch (error) {
    const dir = join(RESULTS_DIR, 'e2e');
    mkdirSync(dir, { recursive: true });
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    let n = 0;
    for (const page of context.pages()) {
      n += 1;
      await page.screenshot({ path: join(dir, `console-${slug}-${n}.png`), fullPage: true }).catch(() => undefined);
    }
    throw error;
  } finally {
    await context.close();
  }
}
