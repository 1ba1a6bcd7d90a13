import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { openStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';
import { createTestApp, registerAndLogin, tempDir, type TestApp } from '../../support/helpers.js';

describe('health on a working server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /health/live: 200 {status: ok}, no authentication needed', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /health/ready: 200 naming the database adapter', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', database: 'sqlite' });
  });

  it('HEAD works for both, as load balancers use it', async () => {
    for (const url of ['/health/live', '/health/ready']) {
      const res = await t.app.inject({ method: 'HEAD', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toBe('');
    }
  });

  it('other methods are refused as problem+json', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/health/ready' });
    expect([404, 405]).toContain(res.statusCode);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('health when the database is gone', () => {
  let dir: { dir: string; cleanup: () => void };
  let store: Store;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = tempDir();
    const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir.dir, 'db.sqlite')}`, LOG_LEVEL: 'silent', RATE_LIMIT_ENABLED: 'false' });
    store = await openStore(config.store.databaseUrl);
    app = await buildApp(config, { store });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await store.close();
    dir.cleanup();
  });

  it('ready turns 503 with Retry-After while live stays 200, and requests needing the database get 503, not 500', async () => {
    const { access, email, password } = await registerAndLogin(app);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);

    await store.close();

    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toMatch(/^\d+$/);
    expect(ready.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(ready.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);

    const attempts = [
      await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } }),
      await app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'later@example.com', password } }),
      await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${access}` } }),
    ];
    for (const res of attempts) {
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    }
  });
});
