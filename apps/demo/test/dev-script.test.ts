/**
 * `npm run demo` (apps/demo/scripts/dev.mjs): the discovery document and the JWKS URL it
 * advertises point at the Latchkey server, not at the Vite page (which proxies /auth only and
 * answered /.well-known/jwks.json with its index.html); the page still signs in and refreshes
 * through its proxy, and the mailed links still open the page. The page is on localhost, so that
 * passkeys work (an RP ID is a host name, never an IP address).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/local-services.mjs';
import { http, requireBuild } from '../../../packages/server/test/support/latchkey-process.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PASSWORD = 'correct horse battery staple';
let dir: string;
let demo: ChildProcess;
let output = '';
let latchkeyUrl: string;
let demoUrl: string;

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'latchkey-demo-script-'));
  const [latchkeyPort, demoPort] = [await freePort(), await freePort()];
  latchkeyUrl = `http://127.0.0.1:${latchkeyPort}`;
  demoUrl = `http://localhost:${demoPort}`;
  demo = spawn(process.execPath, [join(REPO_ROOT, 'apps', 'demo', 'scripts', 'dev.mjs')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      LATCHKEY_PORT: String(latchkeyPort),
      DEMO_PORT: String(demoPort),
      DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
      MAIL_OUTBOX_DIR: join(dir, 'outbox'),
      RATE_LIMIT_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  demo.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  for (let i = 0; !output.includes('Latchkey demo:'); i++) {
    if (demo.exitCode !== null) throw new Error(`npm run demo exited (${demo.exitCode}):\n${output}`);
    if (i > 600) throw new Error(`npm run demo did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    const exited = new Promise((resolve) => demo.once('exit', resolve));
    demo.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('advertises the Latchkey server as issuer, with a JWKS URL that serves the keys', async () => {
    const discovery = await http(`${latchkeyUrl}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const doc = discovery.json<{ issuer: string; jwks_uri: string }>();
    expect(doc.issuer).toBe(latchkeyUrl);
    expect(doc.jwks_uri).toBe(`${latchkeyUrl}/.well-known/jwks.json`);
    const jwks = await http(doc.jwks_uri);
    expect(jwks.headers['content-type']).toMatch(/^application\/json/);
    expect(jwks.json<{ keys: { kid: string }[] }>().keys.length).toBeGreaterThan(0);
  });

  it('the page signs in and refreshes through its /auth proxy; the token names that issuer', async () => {
    const email = 'demo-script@example.com';
    const origin = { origin: demoUrl };
    expect((await http(`${demoUrl}/auth/register`, { json: { email, password: PASSWORD }, headers: origin })).status).toBe(201);
    const login = await http(`${demoUrl}/auth/login`, { json: { email, password: PASSWORD }, headers: { ...origin, 'x-auth-mode': 'cookie' } });
    expect(login.status).toBe(200);
    const access = login.json<{ access_token: string }>().access_token;
    expect(JSON.parse(Buffer.from(access.split('.')[1]!, 'base64url').toString('utf8'))).toMatchObject({ iss: latchkeyUrl });
    const cookies = ([] as string[]).concat(login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);
    const csrf = cookies.find((c) => c.startsWith('lk_csrf='))!.slice('lk_csrf='.length);
    const refresh = await http(`${demoUrl}/auth/refresh`, {
      method: 'POST',
      headers: { ...origin, 'x-auth-mode': 'cookie', 'x-csrf-token': csrf, cookie: cookies.join('; ') },
    });
    expect(refresh.status, refresh.body).toBe(200);
  });

  it('mailed links open the demo page (APP_URL), not the Latchkey server', async () => {
    const email = 'demo-script@example.com';
    const forgot = await http(`${demoUrl}/auth/password/forgot`, { json: { email }, headers: { origin: demoUrl } });
    expect(forgot.status).toBe(202);
    // The verification mail of the registration above, and the reset mail.
    const outbox = join(dir, 'outbox');
    const mails = () =>
      (existsSync(outbox) ? readdirSync(outbox) : []).map((f) => readFileSync(join(outbox, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='));
    for (let i = 0; !mails().some((m) => m.includes('/reset-password?token=')); i++) {
      if (i > 300) throw new Error(`no reset mail in ${outbox}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const all = mails().join('\n');
    expect(all).toContain(`${demoUrl}/verify-email?token=`);
    expect(all).toContain(`${demoUrl}/reset-password?token=`);
    expect(all).not.toContain(latchkeyUrl);
  });

  it('passkeys work on the page: the RP ID is localhost', async () => {
    const options = await http(`${demoUrl}/auth/passkeys/login/options`, { method: 'POST', headers: { origin: demoUrl } });
    expect(options.status, options.body).toBe(200);
    expect(options.json<{ options: { rpId: string } }>().options.rpId).toBe('localhost');
    expect(output).toContain(`Latchkey demo:   ${demoUrl}/`);
    expect(output).toContain(`Admin console:   ${latchkeyUrl}/console/`);
  });
});
