import fastifySwagger from '@fastify/swagger';
import { Validator } from '@seriousme/openapi-schema-validator';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { openApiDefinition } from '../../../src/features/api-docs/routes.js';
import { latchkey } from '../../../src/plugin.js';
import { createTestApp, tempDir, type TestApp } from '../../support/helpers.js';

/** The page's DOM as far as the init script below uses it: tests are typechecked without the DOM library. */
declare const document: {
  addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void;
};

interface MediaType {
  schema?: Record<string, unknown>;
}
interface Operation {
  summary?: string;
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, { description?: string; content?: Record<string, MediaType> }>;
  security?: Array<Record<string, string[]>>;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, unknown>> };
}

/** The routes of the contract; each must be in the document with its schemas. */
const CONTRACT: Array<[string, string, { body?: boolean; auth?: boolean }]> = [
  ['post', '/auth/register', { body: true }],
  ['post', '/auth/login', { body: true }],
  ['get', '/auth/me', { auth: true }],
  ['patch', '/auth/me', { body: true, auth: true }],
  ['delete', '/auth/me', { body: true, auth: true }],
  ['get', '/auth/me/export', { auth: true }],
  ['post', '/auth/refresh', { body: true }],
  ['post', '/auth/logout', { auth: true }],
  ['post', '/auth/logout-all', { auth: true }],
  ['post', '/auth/change-password', { body: true, auth: true }],
  ['get', '/auth/sessions', { auth: true }],
  ['delete', '/auth/sessions/{id}', { auth: true }],
  ['post', '/auth/mfa/verify', { body: true }],
  ['get', '/auth/factors', { auth: true }],
  ['post', '/auth/factors/totp', { auth: true }],
  ['post', '/auth/factors/totp/confirm', { body: true, auth: true }],
  ['delete', '/auth/factors/totp', { body: true, auth: true }],
  ['post', '/auth/factors/recovery-codes', { body: true, auth: true }],
  ['post', '/auth/reauthenticate', { body: true, auth: true }],
  ['post', '/auth/reauthenticate/passkey/options', { auth: true }],
  ['get', '/health/live', {}],
  ['get', '/health/ready', {}],
  ['get', '/.well-known/jwks.json', {}],
  ['get', '/.well-known/openid-configuration', {}],
];

let t: TestApp;
let doc: OpenApiDoc;
beforeAll(async () => {
  t = await createTestApp();
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  doc = res.json() as OpenApiDoc;
});
afterAll(async () => {
  await t.close();
});

function operations(): Array<[string, string, Operation]> {
  const out: Array<[string, string, Operation]> = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) out.push([method, path, op]);
    }
  }
  return out;
}

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 and passes an independent validator', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('the validator is not a rubber stamp: it refuses a broken copy', async () => {
    const broken = structuredClone(doc) as unknown as Record<string, unknown>;
    (broken.paths as Record<string, unknown>)['/auth/login'] = { post: { responses: 'none' } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it.each(CONTRACT)('%s %s is documented with request and response schemas', (method, path, expectations) => {
    const op = doc.paths[path]?.[method];
    expect(op, `${method.toUpperCase()} ${path} missing`).toBeDefined();
    const success = Object.entries(op!.responses).filter(([status]) => status.startsWith('2'));
    expect(success.length, 'a 2xx response').toBeGreaterThan(0);
    for (const [status, response] of success) {
      if (status === '204') continue;
      const schema = response.content?.['application/json']?.schema;
      expect(schema, `${status} schema`).toBeDefined();
      expect(schema!.type ?? schema!.$ref ?? schema!.properties, `${status} schema is not empty`).toBeDefined();
    }
    if (expectations.body) {
      const content = op!.requestBody?.content;
      expect(content?.['application/json']?.schema, 'JSON request schema').toBeDefined();
      expect(content!['application/json']!.schema!.properties, 'request schema lists its fields').toBeDefined();
    }
    if (expectations.auth) {
      expect(op!.security?.some((s) => 'OAuth2PasswordBearer' in s), 'protected by the OAuth2 scheme').toBe(true);
      expect(op!.responses['401'], '401 documented').toBeDefined();
    }
  });

  it('every documented operation has a schema for each response that has a body', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(CONTRACT.length);
    for (const [method, path, op] of ops) {
      for (const [status, response] of Object.entries(op.responses)) {
        // Bodyless successes (204, an empty 202) and redirects (302, with Location) are documented
        // without content; errors never are.
        if ((status.startsWith('2') || status.startsWith('3')) && !response.content) continue;
        const media = Object.values(response.content ?? {});
        expect(media.length, `${method} ${path} ${status} has no content`).toBeGreaterThan(0);
        for (const m of media) expect(m.schema, `${method} ${path} ${status}`).toBeDefined();
      }
    }
  });

  it('documents every route Latchkey registers (other than the hidden ones)', async () => {
    const { dir, cleanup } = tempDir();
    const host = Fastify();
    const routes: Array<{ method: string; url: string; schema?: { hide?: boolean; response?: object } }> = [];
    host.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method: method.toLowerCase(), url: route.url, schema: route.schema as never });
    });
    try {
      await host.register(latchkey, { config: loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'silent' }) });
      await host.ready();
    } finally {
      await host.close();
      cleanup();
    }
    const visible = routes.filter((r) => r.method !== 'head' && r.schema?.hide !== true);
    expect(visible.length).toBeGreaterThanOrEqual(CONTRACT.length);
    for (const route of visible) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[route.method], `${route.method.toUpperCase()} ${route.url} is not in /openapi.json`).toBeDefined();
      expect(route.schema?.response, `${route.method.toUpperCase()} ${route.url} has no response schema`).toBeDefined();
    }
  });

  it('is the document @fastify/swagger makes when registered in the app itself (the docs load lazily)', async () => {
    const host = Fastify();
    try {
      await host.register(fastifySwagger, { openapi: openApiDefinition(t.config.tokens.issuer) });
      await host.register(latchkey, { config: t.config, storeInstance: t.app.latchkey.store });
      await host.ready();
      expect(doc).toEqual(JSON.parse(JSON.stringify(host.swagger())));
      expect(Object.keys(doc.paths).length).toBeGreaterThanOrEqual(CONTRACT.length);
    } finally {
      await host.close();
    }
  });

  it('documents error responses as application/problem+json with the problem schema', () => {
    for (const [method, path, op] of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status)) continue;
        const schema = response.content?.['application/problem+json']?.schema as { required?: string[] } | undefined;
        expect(schema?.required, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
      }
    }
  });

  it('documents the login form (username, password, grant_type) next to the JSON body', () => {
    const content = doc.paths['/auth/login']!.post!.requestBody!.content;
    const form = content['application/x-www-form-urlencoded']!.schema as { required: string[]; properties: Record<string, unknown> };
    expect(form.required).toEqual(expect.arrayContaining(['username', 'password']));
    expect(Object.keys(form.properties)).toEqual(expect.arrayContaining(['username', 'password', 'grant_type']));
    const json = content['application/json']!.schema as { required: string[] };
    expect(json.required).toEqual(expect.arrayContaining(['email', 'password']));
  });

  it('documents step-up: the reauthenticate body, its TokenResponse, and the 403 of the routes that demand it', () => {
    const op = doc.paths['/auth/reauthenticate']!.post!;
    const body = op.requestBody!.content['application/json']!.schema as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(body.properties)).toEqual(['password', 'code', 'recovery_code', 'passkey']);
    expect(body.additionalProperties).toBe(false);
    const ok = op.responses['200']!.content!['application/json']!.schema as { required: string[] };
    expect(ok.required).toEqual(expect.arrayContaining(['access_token', 'token_type', 'expires_in']));
    for (const [method, path] of [
      ['post', '/auth/change-password'],
      ['delete', '/auth/factors/totp'],
      ['post', '/auth/factors/recovery-codes'],
      ['delete', '/auth/passkeys/{id}'],
    ] as const) {
      const problem = doc.paths[path]![method]!.responses['403']?.content?.['application/problem+json']?.schema as { properties: Record<string, unknown> } | undefined;
      expect(problem?.properties, `${method} ${path} 403`).toHaveProperty('max_age');
      expect(problem?.properties).toHaveProperty('methods');
    }
  });

  it('has an OAuth2 password-flow security scheme whose token URL is the login route', () => {
    const scheme = doc.components.securitySchemes.OAuth2PasswordBearer as {
      type: string;
      flows: { password: { tokenUrl: string } };
    };
    expect(scheme.type).toBe('oauth2');
    expect(scheme.flows.password.tokenUrl).toBe('/auth/login');
    expect(doc.paths['/auth/login']!.post).toBeDefined();
    // Relative to the page's origin first, so the docs page never calls another origin by default.
    expect(doc.servers?.[0]?.url).toBe('/');
  });

  it('never documents a hash or a password in a response', () => {
    for (const [method, path, op] of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        const text = JSON.stringify(response.content ?? {});
        expect(text, `${method} ${path} ${status}`).not.toMatch(/password_?hash|"password"/i);
      }
    }
  });
});

describe('GET /docs', () => {
  it('answers the interactive HTML page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/swagger-ui/i);
  });

  it("serves the page's assets and the HEAD of the page through the lazily built docs instance", async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const script = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(Number(script.headers['content-length'])).toBe(script.rawPayload.length);
    expect(script.rawPayload.length).toBeGreaterThan(100_000);
    const etag = script.headers.etag as string;
    expect(etag).toBeTruthy();
    expect((await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js', headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    const head = await t.app.inject({ method: 'HEAD', url: '/docs' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect((await t.app.inject({ method: 'GET', url: '/docs/static/no-such-file.js' })).statusCode).toBe(404);
  });

  it("is Latchkey's: the tab's title and icon, the logo of the top bar", async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(page.body).toContain('<title>Latchkey API</title>');
    expect(page.body).not.toMatch(/Swagger UI<\/title>/);
    const icon = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/.exec(page.body)?.[1];
    expect(icon).toBe('/docs/static/theme/favicon.svg');
    const favicon = await t.app.inject({ method: 'GET', url: icon! });
    expect(favicon.statusCode).toBe(200);
    expect(favicon.body).toMatch(/^<svg /);
    const init = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    const logo = /img\.src = 'data:image\/svg\+xml;base64,([^']+)'/.exec(init.body)?.[1];
    expect(Buffer.from(logo!, 'base64').toString('utf8')).toContain('<title>Latchkey API</title>');
  });

  it('the page gets the document without the cookie scheme, which a page cannot use; /openapi.json keeps it', async () => {
    const forPage = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as OpenApiDoc;
    expect(Object.keys(forPage.components.securitySchemes).sort()).toEqual(['BearerAuth', 'OAuth2PasswordBearer']);
    expect(JSON.stringify(forPage.paths)).not.toContain('RefreshCookie');
    // Refresh takes the token in the body too: no requirement, as before, besides the cookie.
    expect(forPage.paths['/auth/refresh']!.post!.security).toEqual([{}]);
    expect(forPage.paths['/auth/logout']!.post!.security).toEqual([{ OAuth2PasswordBearer: [] }, { BearerAuth: [] }]);
    expect(doc.components.securitySchemes.RefreshCookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'lk_refresh' });
    expect(doc.paths['/auth/refresh']!.post!.security).toEqual([{}, { RefreshCookie: [] }]);
  });

  it('is absent with DOCS_ENABLED=false', async () => {
    const off = await createTestApp({ DOCS_ENABLED: 'false' });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(404);
      expect((await off.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('the Authorize button of the docs page (real Chromium)', () => {
  const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

  it('shows Latchkey\'s name and logo, an Authorize dialog without useless fields, logs in with the OAuth2 password flow (a wrong password said in words), then "Try it out" answers, under its CSP without a violation', async () => {
    expect(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (scripts/ensure-system-deps.sh installs it)`).toBe(true);
    const { dir, cleanup } = tempDir();
    const port = await freePort();
    // As a user runs it: default ISSUER (http://localhost:PORT), page opened at 127.0.0.1.
    const config = loadConfig({ PORT: String(port), DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'silent', RATE_LIMIT_ENABLED: 'false' });
    const app = await buildApp(config);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      await app.listen({ port, host: '127.0.0.1' });
      const reg = await app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'docs@example.com', password: 'correct horse battery staple' } });
      expect(reg.statusCode).toBe(201);

      const page = await browser.newPage();
      // Anything the page's Content-Security-Policy blocks shows in the console.
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy|CSP violation/i.test(m.text())) violations.push(m.text());
      });
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
      });
      const docs = await page.goto(`http://127.0.0.1:${port}/docs`);
      expect(docs!.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(docs!.headers()['x-frame-options']).toBe('DENY');
      expect(await page.title()).toBe('Latchkey API');
      // The top bar: Latchkey's logo, named, where the framework's was.
      const logo = page.locator('.topbar img').first();
      await logo.waitFor({ state: 'visible', timeout: 10_000 });
      const src = (await logo.getAttribute('src'))!;
      expect(src).toMatch(/^data:image\/svg\+xml;base64,/);
      const svg = Buffer.from(src.split(',')[1]!, 'base64').toString('utf8');
      expect(svg).toContain('<title>Latchkey API</title>');
      expect(svg).toMatch(/<text [^>]*>Latchkey<tspan [^>]*>API<\/tspan><\/text>/);
      expect(svg).not.toMatch(/swagger|fastify/i);

      await page.getByRole('button', { name: 'Authorize' }).first().click();
      // The dialog: the email and password sign-in and the bearer field, nothing that does nothing.
      const dialog = page.locator('.modal-ux');
      await page.locator('#oauth_username').waitFor({ state: 'visible', timeout: 10_000 });
      const shown = await dialog.innerText();
      expect(shown).toContain('OAuth2PasswordBearer');
      expect(shown).toContain('Sign in with your email (as username) and password');
      expect(shown).toContain('username:');
      expect(shown).toContain('password:');
      expect(shown).toContain('BearerAuth');
      for (const useless of ['client_id', 'client_secret', 'Client credentials location', 'Scopes are used', 'RefreshCookie', 'lk_refresh']) {
        expect(shown, useless).not.toContain(useless);
      }
      for (const field of ['#client_id_password', '#client_secret_password', '#password_type', '#api_key_value']) {
        expect(await page.locator(field).isVisible(), field).toBe(false);
      }
      expect(await page.locator('#auth-bearer-value').isVisible()).toBe(true);

      // A wrong password: the dialog says so in words.
      await page.locator('#oauth_username').fill('docs@example.com');
      await page.locator('#oauth_password').fill('not the right password');
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.request().method() === 'POST'),
        page.locator('.modal-ux button.authorize').first().click(),
      ]);
      expect(refused.status()).toBe(400);
      await dialog.getByText('The email or password is incorrect.').first().waitFor({ state: 'visible', timeout: 10_000 });

      await page.locator('#oauth_password').fill('correct horse battery staple');
      const [login] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.request().method() === 'POST'),
        page.locator('.modal-ux button.authorize').first().click(),
      ]);
      expect(login.url()).toBe(`http://127.0.0.1:${port}/auth/login`);
      expect(login.status()).toBe(200);
      // Swagger UI swaps the Authorize button for Logout once it holds a token.
      await page.locator('.modal-ux button', { hasText: 'Logout' }).first().waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('.modal-ux').innerText()).toContain('Authorized');
      await page.locator('.modal-ux button.btn-done').first().click();

      const op = page.locator('.opblock-get').filter({ has: page.locator('[data-path="/auth/me"]') });
      await op.locator('.opblock-summary').click();
      await op.locator('button.try-out__btn').click();
      const [me] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/auth/me') && r.request().method() === 'GET'),
        op.locator('button.execute').click(),
      ]);
      expect(me.status()).toBe(200);
      expect(me.request().headers().authorization).toMatch(/^Bearer ey/);
      expect(await me.json()).toMatchObject({ user: { email: 'docs@example.com' } });
      await op.locator('.responses-wrapper .live-responses-table').first().waitFor({ state: 'visible', timeout: 10_000 });

      // "Try it out" on POST /auth/login with a wrong password: the problem shown says it in a sentence.
      const loginOp = page.locator('.opblock-post').filter({ has: page.locator('[data-path="/auth/login"]') });
      await loginOp.locator('.opblock-summary').click();
      await loginOp.locator('button.try-out__btn').click();
      await loginOp.locator('textarea.body-param__text').fill(JSON.stringify({ email: 'docs@example.com', password: 'still not the password' }));
      const [tried] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.request().method() === 'POST'),
        loginOp.locator('button.execute').click(),
      ]);
      expect(tried.status()).toBe(400);
      const answer = loginOp.locator('.responses-wrapper .live-responses-table').first();
      await answer.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await answer.innerText()).toContain('"detail": "The email or password is incorrect."');
      // The whole session, page load to the answers shown, ran under the policy untouched.
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
      await app.close();
      cleanup();
    }
  });
});
