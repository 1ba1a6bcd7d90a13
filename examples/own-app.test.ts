/**
 * Using Latchkey from your own app (docs/own-app.md), as a user does it before the packages are
 * on the npm registry: the tarballs of `npm run pack`, installed by file path into copies of the
 * committed examples.
 * - every tarball holds what its package.json points at (dist, types);
 * - examples/vite-react installs, typechecks and builds, and in Chromium (`vite preview`, a real
 *   Latchkey process) an account with an authenticator app signs in: password, then a code, a
 *   wrong one refused; then a recovery code;
 * - examples/nextjs installs, `next build`s (offline apart from the npm registry: telemetry off,
 *   no fonts) and `next start`s against a real Latchkey process: its route handler and its server
 *   component take a valid token and refuse none, an expired, an other-issuer and a forged one,
 *   logging why; a wrong LATCHKEY_ISSUER stops `next start`; Chromium signs in through the page,
 *   also an account with an authenticator app (password, then the code step).
 * TOTP codes are computed here with the otpauth library, as the server's tests do, for the clock
 * of the Latchkey process (real time).
 *
 * It runs the pack step of `npm run pack` but not that script's `npm run build`: `npm test` has
 * built already, and rebuilding dist/ while other test files start the server from it would race
 * them. Takes a few minutes (two npm installs and a Next build).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/lib/local-services.mjs';
import { http, startServer, type ServerProcess } from '../packages/server/test/support/latchkey-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'correct horse battery staple';
const BUILD_STEP = 'npm run build && ';

let work: string;
let dist: string;
const cleanup: (() => Promise<unknown> | void)[] = [];

/** The environment of the tools run here: the user's, without what vitest and npm's own run set. */
function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_ENV$|NODE_OPTIONS$)/i.test(key) && !/^npm_config_(cache|registry|userconfig)$/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NEXT_TELEMETRY_DISABLED: '1', ...extra };
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = toolEnv()): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

/** A copy of examples/<name> beside a packages-dist folder, so its `file:../../packages-dist/...` resolve. */
function copyExample(name: string): string {
  const to = join(work, 'examples', name);
  cpSync(join(ROOT, 'examples', name), to, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|\.next|dist)$/.test(src) && !src.endsWith('next-env.d.ts'),
  });
  return to;
}

/** The code an authenticator app shows now (`steps` periods of 30 s away). */
function totpCode(secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + steps * 30_000 });
}

/** A new account on the Latchkey at `url` with its authenticator app turned on (over HTTP): its secret and recovery codes. */
async function accountWithTotp(url: string, email: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  expect((await http(`${url}/auth/register`, { json: { email, password: PASSWORD } })).status).toBe(201);
  const login = await http(`${url}/auth/login`, { json: { email, password: PASSWORD } });
  const bearer = { authorization: `Bearer ${login.json<{ access_token: string }>().access_token}` };
  const enrolment = await http(`${url}/auth/factors/totp`, { method: 'POST', headers: bearer });
  expect(enrolment.status, enrolment.body).toBeLessThan(300);
  const secret = enrolment.json<{ secret: string }>().secret;
  const confirmed = await http(`${url}/auth/factors/totp/confirm`, { headers: bearer, json: { code: totpCode(secret) } });
  expect(confirmed.status, confirmed.body).toBe(200);
  return { secret, recoveryCodes: confirmed.json<{ recovery_codes: string[] }>().recovery_codes };
}

/** A code none of the accepted ones (previous, current, next period). */
function wrongCode(secret: string): string {
  const accepted = new Set([totpCode(secret, -1), totpCode(secret), totpCode(secret, 1)]);
  return ['000000', '111111', '222222', '333333'].find((c) => !accepted.has(c))!;
}

const CODE_LABEL = 'Code from your authenticator app, or a recovery code';

/** The example's sign-in form with the password: the second-factor step appears, nobody is signed in yet. */
async function passwordStep(page: Page, email: string): Promise<void> {
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.getByLabel(CODE_LABEL).waitFor();
  expect(await page.getByText('Signed in as').count()).toBe(0);
}

function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Waits until `url` answers HTTP (any status), while `child` runs. */
async function answering(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited (${child.exitCode}):\n${log()}`);
    const res = await http(url, { timeoutMs: 2000 }).catch(() => null);
    if (res !== null) return;
    if (i > 300) throw new Error(`${url} did not answer:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops a child process started here. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const npmInstall = (cwd: string) => run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], cwd);

function tarballFiles(file: string): Promise<string[]> {
  return run('tar', ['-tzf', join(dist, file)], work).then((out) => out.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, '')));
}

beforeAll(async () => {
  for (const pkg of ['server', 'client', 'verify']) {
    if (!existsSync(join(ROOT, 'packages', pkg, 'dist', 'index.js'))) throw new Error(`packages/${pkg}/dist is missing: run \`npm run build\` first (npm test does)`);
  }
  work = mkdtempSync(join(tmpdir(), 'latchkey-own-app-'));
  cleanup.push(() => rmSync(work, { recursive: true, force: true }));
  dist = join(work, 'packages-dist');
  // `npm run pack` after its build step, writing to this run's folder instead of ./packages-dist.
  const pack = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.pack!;
  expect(pack.startsWith(BUILD_STEP), pack).toBe(true);
  await run('sh', ['-c', pack.slice(BUILD_STEP.length).replaceAll('packages-dist', dist)], ROOT);
}, 120_000);

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

describe('npm run pack', () => {
  it('writes the three tarballs, each holding every file its package.json points at', async () => {
    expect(readdirSync(dist).sort()).toEqual(['latchkey-client-0.1.0.tgz', 'latchkey-server-0.1.0.tgz', 'latchkey-verify-0.1.0.tgz']);
    for (const name of ['client', 'verify', 'server']) {
      const files = await tarballFiles(`latchkey-${name}-0.1.0.tgz`);
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as {
        exports: Record<string, { types: string; default: string }>;
        bin?: Record<string, string>;
      };
      const targets = Object.values(manifest.exports).flatMap((e) => [e.types, e.default]);
      for (const target of [...targets, ...Object.values(manifest.bin ?? {})]) expect(files, `${name}: ${target}`).toContain(target.replace(/^\.\//, ''));
      // Nothing of the repository beyond the package: no tests, no tsconfig, no node_modules.
      expect(files.filter((f) => /(^|\/)(test|node_modules)\/|tsconfig/.test(f)), name).toEqual([]);
    }
    expect(await tarballFiles('latchkey-server-0.1.0.tgz')).toContain('data/common-passwords.txt');
  });
});

describe('examples/vite-react with the @latchkey/client tarball', () => {
  let app: string;

  it('installs, typechecks and builds', async () => {
    app = copyExample('vite-react');
    await npmInstall(app);
    await run(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.'], app);
    await run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], app);
    const assets = readdirSync(join(app, 'dist', 'assets'));
    const bundle = assets.map((f) => readFileSync(join(app, 'dist', 'assets', f), 'utf8')).join('\n');
    // The SDK is in the bundle: its refresh call and its React bindings' error text.
    expect(bundle).toContain('/auth/refresh');
    expect(bundle).toContain('need an <AuthProvider');
  }, 300_000);

  it('in Chromium (vite preview, a real Latchkey): an account with an authenticator app signs in with password + code, a wrong code refused; then with a recovery code', async () => {
    expect(app, 'the build above').toBeDefined();
    const previewPort = await freePort();
    const appUrl = `http://127.0.0.1:${previewPort}`;
    const latchkey = await startServer({ ISSUER: `http://127.0.0.1:${await freePort()}`, DATABASE_URL: `sqlite:${join(work, 'vite-react.db')}`, COOKIE_SECURE: 'false' }, { cwd: work });
    cleanup.push(() => latchkey.stop());
    const preview = spawn(process.execPath, ['node_modules/vite/bin/vite.js', 'preview', '--host', '127.0.0.1', '--port', String(previewPort), '--strictPort'], {
      cwd: app,
      env: toolEnv({ LATCHKEY_URL: latchkey.url }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let previewLog = '';
    preview.stdout.on('data', (c: Buffer) => (previewLog += c.toString('utf8')));
    preview.stderr.on('data', (c: Buffer) => (previewLog += c.toString('utf8')));
    cleanup.push(() => stopChild(preview));
    await answering(`${appUrl}/`, preview, () => previewLog);

    const email = `grace-${Date.now()}@example.com`;
    const { secret, recoveryCodes } = await accountWithTotp(latchkey.url, email);
    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${appUrl}/`);
    await passwordStep(page, email);
    await page.getByLabel(CODE_LABEL).fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong code, please try again.' }).waitFor();
    // The code that confirmed the factor is spent: the next period's is accepted.
    await page.getByLabel(CODE_LABEL).fill(totpCode(secret, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    // A reload restores the session the code started (the refresh cookie, through the proxy).
    await page.reload();
    await page.getByText(`Signed in as ${email}`).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await passwordStep(page, email);
    await page.getByLabel(CODE_LABEL).fill(recoveryCodes[0]!.toLowerCase());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
  }, 120_000);
});

describe('examples/nextjs with the @latchkey/verify and @latchkey/client tarballs', () => {
  let latchkey: ServerProcess;
  let next: ChildProcess;
  let nextUrl: string;
  let nextLog = '';
  let issuer: string;
  let user: { id: string; email: string; access: string };
  const tokens: Record<'expired' | 'otherIssuer' | 'forged', string> = { expired: '', otherIssuer: '', forged: '' };

  async function login(server: ServerProcess, email: string): Promise<string> {
    const res = await http(`${server.url}/auth/login`, { json: { email, password: PASSWORD } });
    if (res.status !== 200) throw new Error(`login: ${res.status} ${res.body}`);
    return res.json<{ access_token: string }>().access_token;
  }

  beforeAll(async () => {
    const app = copyExample('nextjs');
    const install = npmInstall(app);
    const [latchkeyPort, nextPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${latchkeyPort}`;
    nextUrl = `http://127.0.0.1:${nextPort}`;
    const db = `sqlite:${join(work, 'latchkey.db')}`;
    latchkey = await startServer(
      // The refresh cookie is used through Next's rewrite, whose requests carry Next's origin.
      { PORT: String(latchkeyPort), ISSUER: issuer, DATABASE_URL: db, COOKIE_SECURE: 'false', CORS_ORIGINS: nextUrl },
      { cwd: work },
    );
    cleanup.push(() => latchkey.stop());
    const email = 'ada@example.com';
    const reg = await http(`${issuer}/auth/register`, { json: { email, password: PASSWORD } });
    expect(reg.status).toBe(201);
    user = { id: reg.json<{ user: { id: string } }>().user.id, email, access: await login(latchkey, email) };
    // Tokens right in every respect but one, from two more instances on the same database (same keys).
    const shortLived = await startServer({ ISSUER: issuer, DATABASE_URL: db, ACCESS_TOKEN_TTL: '1s' }, { cwd: work });
    tokens.expired = await login(shortLived, email);
    await shortLived.stop();
    const other = await startServer({ ISSUER: 'http://other-issuer.test', DATABASE_URL: db }, { cwd: work });
    tokens.otherIssuer = await login(other, email);
    await other.stop();
    const [h, p, s] = user.access.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
    tokens.forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${s}`;

    await install;
    await run(process.execPath, ['node_modules/next/dist/bin/next', 'build'], app, toolEnv({ LATCHKEY_URL: issuer }));
    next = spawn(process.execPath, ['node_modules/next/dist/bin/next', 'start', '-H', '127.0.0.1', '-p', String(nextPort)], {
      cwd: app,
      env: toolEnv({ LATCHKEY_ISSUER: issuer, COOKIE_SECURE: 'false' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    next.stdout!.on('data', (c: Buffer) => (nextLog += c.toString('utf8')));
    next.stderr!.on('data', (c: Buffer) => (nextLog += c.toString('utf8')));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          if (next.exitCode !== null || next.signalCode !== null) return resolve();
          next.once('exit', () => resolve());
          next.kill('SIGTERM');
        }),
    );
    for (let i = 0; ; i++) {
      if (next.exitCode !== null) throw new Error(`next start exited (${next.exitCode}):\n${nextLog}`);
      const res = await http(`${nextUrl}/api/orders`, { timeoutMs: 2000 }).catch(() => null);
      if (res !== null) break;
      if (i > 300) throw new Error(`next start did not answer:\n${nextLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The expired token must be past its exp plus the verifier's 5 s leeway (the build took longer).
    const exp = (JSON.parse(Buffer.from(tokens.expired.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp;
    const wait = exp * 1000 + 6000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }, 600_000);

  const orders = (token?: string) => http(`${nextUrl}/api/orders`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const account = (token?: string) => http(`${nextUrl}/account`, { headers: token ? { cookie: `app_access_token=${token}` } : {} });

  it('route handler: a valid bearer token gets 200 with the caller', async () => {
    const res = await orders(user.access);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ owner: user.id, roles: [], orders: [] });
  });

  it('route handler: no token is 401 problem+json with a bare Bearer challenge', async () => {
    const res = await orders();
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('route handler: expired, other-issuer and forged tokens are 401 invalid_token, and the log says why (never the token)', async () => {
    for (const [name, token] of Object.entries(tokens)) {
      const res = await orders(token);
      expect(res.status, name).toBe(401);
      expect(res.headers['www-authenticate'], name).toBe('Bearer error="invalid_token"');
      expect(res.json(), name).toMatchObject({ code: 'INVALID_TOKEN' });
    }
    expect(nextLog).toContain('latchkey: access token refused: ERR_JWT_EXPIRED');
    expect(nextLog).toContain('latchkey: access token refused: ERR_JWT_CLAIM_VALIDATION_FAILED');
    expect(nextLog).toContain('latchkey: access token refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    for (const token of [user.access, ...Object.values(tokens)]) expect(nextLog).not.toContain(token.split('.')[2]!);
  });

  it('POST /api/session puts a verified bearer token into an HttpOnly cookie; without one it sets nothing', async () => {
    const res = await http(`${nextUrl}/api/session`, { method: 'POST', headers: { authorization: `Bearer ${user.access}` } });
    expect(res.status).toBe(204);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toContain(`app_access_token=${user.access}`);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=lax/i);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(900);
    for (const token of [undefined, tokens.expired]) {
      const refused = await http(`${nextUrl}/api/session`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(refused.status).toBe(401);
      expect(refused.headers['set-cookie']).toBeUndefined();
    }
  });

  it('server component: renders the user for a valid token cookie, redirects to sign-in otherwise', async () => {
    const res = await account(user.access);
    expect(res.status).toBe(200);
    expect(res.body).toContain(`<code id="user-id">${user.id}</code>`);
    for (const [name, token] of Object.entries({ none: undefined, ...tokens })) {
      const refused = await account(token);
      expect(refused.status, name).toBe(307);
      expect(refused.headers.location, name).toBe('/');
      expect(refused.body, name).not.toContain(user.id);
    }
  });

  it('next start stops with the reason when LATCHKEY_ISSUER is not what Latchkey says (instrumentation.ts)', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['node_modules/next/dist/bin/next', 'start', '-H', '127.0.0.1', '-p', String(port)], {
      cwd: join(work, 'examples', 'nextjs'),
      env: toolEnv({ LATCHKEY_ISSUER: 'http://wrong-issuer.test', LATCHKEY_URL: issuer }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    clearTimeout(timer);
    expect(code, out).toBe(1);
    expect(out).toContain(`latchkey: the Latchkey at ${issuer} says its issuer is "${issuer}", but LATCHKEY_ISSUER is "http://wrong-issuer.test"`);
  });

  describe('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('signs in with @latchkey/client, calls the route handler, opens the server component, survives a reload, signs out', async () => {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${nextUrl}/`);
      await page.fill('input[name=email]', user.email);
      await page.fill('input[name=password]', PASSWORD);
      const session = page.waitForResponse((r) => r.url() === `${nextUrl}/api/session` && r.request().method() === 'POST');
      await page.click('button[type=submit]');
      expect((await session).status()).toBe(204);
      await page.getByText(`Signed in as ${user.email}`).waitFor();

      await page.getByRole('button', { name: 'Load my orders' }).click();
      await page.locator('#orders', { hasText: user.id }).waitFor();
      expect(JSON.parse((await page.locator('#orders').textContent())!)).toEqual({ owner: user.id, roles: [], orders: [] });

      await page.getByRole('link', { name: /Your account/ }).click();
      await page.locator('#user-id').waitFor();
      expect(await page.locator('#user-id').textContent()).toBe(user.id);

      // A reload forgets the in-memory token: the SDK restores through the refresh cookie, via the rewrite.
      await page.goto(`${nextUrl}/`);
      await page.getByText(`Signed in as ${user.email}`).waitFor();

      const cleared = page.waitForResponse((r) => r.url() === `${nextUrl}/api/session` && r.request().method() === 'DELETE');
      await page.getByRole('button', { name: 'Sign out' }).click();
      expect((await cleared).status()).toBe(204);
      await page.goto(`${nextUrl}/account`);
      await page.locator('input[name=email]').waitFor();
      expect(page.url()).toBe(`${nextUrl}/`);
    });

    it('an account with an authenticator app: the password, then the code step (a wrong code refused); then the server component sees the session', async () => {
      const email = 'grace@example.com';
      const { secret } = await accountWithTotp(issuer, email);
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${nextUrl}/`);
      await passwordStep(page, email);
      await page.getByLabel(CODE_LABEL).fill(wrongCode(secret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong code, please try again.' }).waitFor();
      const session = page.waitForResponse((r) => r.url() === `${nextUrl}/api/session` && r.request().method() === 'POST');
      await page.getByLabel(CODE_LABEL).fill(totpCode(secret, 1));
      await page.getByRole('button', { name: 'Verify' }).click();
      expect((await session).status()).toBe(204);
      await page.getByText(`Signed in as ${email}`).waitFor();
      await page.getByRole('link', { name: /Your account/ }).click();
      await page.locator('#user-id').waitFor();
    });
  });
});

describe('docs/own-app.md', () => {
  it('shows only TypeScript that is in the tested examples, verbatim', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'own-app.md'), 'utf8');
    const sources = ['vite-react/vite.config.ts', 'vite-react/src/main.tsx', 'vite-react/src/App.tsx', 'nextjs/app/api/orders/route.ts', 'nextjs/app/account/page.tsx', 'nextjs/app/latchkey-provider.tsx']
      .map((f) => readFileSync(join(ROOT, 'examples', f), 'utf8'))
      .join('\n');
    const blocks = [...doc.matchAll(/```tsx?\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const block of blocks) expect(sources, block).toContain(block);
  });
});
