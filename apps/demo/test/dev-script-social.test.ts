/**
 * `DEMO_SOCIAL=1 npm run demo` (apps/demo/scripts/dev.mjs): the local OpenID provider "Test IdP"
 * starts with the demo, and a developer can sign in with it in a browser: Debian's Chromium
 * through the Vite page (localhost), the provider's login and consent pages, and back signed in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/local-services.mjs';
import { http, requireBuild } from '../../../packages/server/test/support/latchkey-process.js';
import { inFreshProfile } from './harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;
let demo: ChildProcess;
let browser: Browser | null = null;
let output = '';
let demoUrl: string;
let idpUrl: string;

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'latchkey-demo-social-'));
  const [latchkeyPort, demoPort, idpPort] = [await freePort(), await freePort(), await freePort()];
  demoUrl = `http://localhost:${demoPort}`;
  idpUrl = `http://127.0.0.1:${idpPort}`;
  demo = spawn(process.execPath, [join(REPO_ROOT, 'apps', 'demo', 'scripts', 'dev.mjs')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DEMO_SOCIAL: '1',
      LATCHKEY_PORT: String(latchkeyPort),
      DEMO_PORT: String(demoPort),
      DEMO_IDP_PORT: String(idpPort),
      DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
      MAIL_OUTBOX_DIR: join(dir, 'outbox'),
      RATE_LIMIT_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  demo.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  for (let i = 0; !output.includes('Latchkey demo:'); i++) {
    if (demo.exitCode !== null) throw new Error(`DEMO_SOCIAL=1 npm run demo exited (${demo.exitCode}):\n${output}`);
    if (i > 600) throw new Error(`DEMO_SOCIAL=1 npm run demo did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--host-resolver-rules=MAP localhost 127.0.0.1'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    const exited = new Promise((resolve) => demo.once('exit', resolve));
    demo.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DEMO_SOCIAL=1 npm run demo', () => {
  it('lists Test IdP and signs a new user in through its login page', async () => {
    expect(output).toContain(`Test IdP:        ${idpUrl}`);
    const providers = await http(`${demoUrl}/auth/oauth/providers`);
    expect(providers.json<{ providers: unknown[] }>().providers).toEqual([{ id: 'testidp', name: 'Test IdP' }]);

    await inFreshProfile(browser!, 'dev script social', async (context) => {
      context.setDefaultTimeout(60_000); // Vite compiles the page at its first load
      const page = await context.newPage();
      const email = `dev-${Math.random().toString(36).slice(2, 10)}@example.com`;
      await page.goto(`${demoUrl}/`);
      await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
      await page.waitForURL((u) => u.origin === idpUrl);
      await page.locator('input[name="login"]').fill(email);
      await page.locator('input[name="password"]').fill('anything');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
      expect(new URL(page.url()).origin).toBe(demoUrl);
    });
  });
});
