/**
 * Database outage: the real `latchkey serve` process on a PostgreSQL cluster of its own (so that
 * stopping it disturbs no other test file). PostgreSQL is stopped in the middle of traffic:
 * requests that need it answer 503 with Retry-After, never 500; /health/ready answers 503 while
 * /health/live stays 200; the process stays up. When PostgreSQL is back, service recovers by
 * itself within a bounded 5 s polling budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, startPostgres, type PostgresCluster } from '../../../../scripts/lib/local-services.mjs';
import { http, startServer, type HttpResult, type ServerProcess } from '../support/latchkey-process.js';

const PASSWORD = 'correct horse battery staple';

let cluster: PostgresCluster;
let server: ServerProcess;

beforeAll(async () => {
  cluster = await startPostgres();
  const databaseUrl = await createDatabase(cluster.url, 'latchkey_outage');
  server = await startServer({ DATABASE_URL: databaseUrl, ISSUER: 'http://latchkey.test' });
});

afterAll(async () => {
  await server?.stop();
  await cluster?.destroy();
});

async function login(email: string): Promise<{ access: string; refresh: string }> {
  const res = await http(`${server.url}/auth/login`, { json: { email, password: PASSWORD } });
  expect(res.status, res.body).toBe(200);
  const body = res.json<{ access_token: string; refresh_token: string }>();
  return { access: body.access_token, refresh: body.refresh_token };
}

interface Sample {
  what: string;
  startedAfterStop: boolean;
  res: HttpResult;
}

describe('PostgreSQL outage', () => {
  const email = 'outage@example.com';

  it('stopped mid-traffic: 503 + Retry-After (never 500), ready 503, live 200, process alive', async () => {
    const reg = await http(`${server.url}/auth/register`, { json: { email, password: PASSWORD } });
    expect(reg.status, reg.body).toBe(201);
    let tokens = await login(email);

    const samples: Sample[] = [];
    let stopped = false;
    let running = true;
    const requests: Record<string, () => Promise<HttpResult>> = {
      me: () => http(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${tokens.access}` } }),
      refresh: async () => {
        const res = await http(`${server.url}/auth/refresh`, { json: { refresh_token: tokens.refresh } });
        if (res.status === 200) tokens = { ...tokens, refresh: res.json<{ refresh_token: string }>().refresh_token };
        return res;
      },
      login: () => http(`${server.url}/auth/login`, { json: { email, password: PASSWORD } }),
      register: () => http(`${server.url}/auth/register`, { json: { email: `r-${Math.random().toString(36).slice(2)}@example.com`, password: PASSWORD } }),
      sessions: () => http(`${server.url}/auth/sessions`, { headers: { authorization: `Bearer ${tokens.access}` } }),
    };
    const traffic = Object.entries(requests).map(async ([what, send]) => {
      // Bounded: each loop ends when the test says so, or after 2,000 requests.
      for (let i = 0; running && i < 2000; i++) {
        const startedAfterStop = stopped;
        samples.push({ what, startedAfterStop, res: await send() });
      }
    });

    // Let traffic flow against the healthy database first.
    while (samples.filter((s) => s.res.status < 300).length < 15) await new Promise((r) => setTimeout(r, 20));
    await cluster.stop();
    stopped = true;
    // Until every kind of request was sent at least once after the stop (login and register hash
    // a password first, so on a loaded machine they come last), and at least 40 in all; bounded.
    const kinds = Object.keys(requests);
    const sentAfterStop = (what: string) => samples.some((s) => s.startedAfterStop && s.what === what);
    for (let waited = 0; waited < 60_000; waited += 20) {
      if (kinds.every(sentAfterStop) && samples.filter((s) => s.startedAfterStop).length >= 40) break;
      await new Promise((r) => setTimeout(r, 20));
    }

    const ready = await http(`${server.url}/health/ready`);
    const live = await http(`${server.url}/health/live`);
    running = false;
    await Promise.all(traffic);

    const statuses = samples.map((s) => s.res.status);
    expect(statuses).not.toContain(500);
    for (const s of samples) {
      expect([200, 201, 503], `${s.what}: ${s.res.status} ${s.res.body}`).toContain(s.res.status);
      if (s.res.status === 503) {
        expect(s.res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(s.res.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
        expect(Number(s.res.headers['retry-after'])).toBeGreaterThan(0);
        expect(s.res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at .*\.js/);
      }
    }
    // Everything sent once the database was down needed it, and was refused cleanly.
    const afterStop = samples.filter((s) => s.startedAfterStop);
    expect(new Set(afterStop.map((s) => s.what))).toEqual(new Set(Object.keys(requests)));
    expect(afterStop.map((s) => s.res.status)).toEqual(afterStop.map(() => 503));

    expect(ready.status).toBe(503);
    expect(ready.headers['retry-after']).toBeDefined();
    expect(ready.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(live.status).toBe(200);
    expect(server.alive()).toBe(true);
    expect(server.output()).not.toMatch(/uncaught|unhandled/i);
  });

  it('recovers by itself within 5 s of the database coming back', async () => {
    await cluster.start();
    const deadline = Date.now() + 5000;
    let ready: HttpResult | null = null;
    let loginRes: HttpResult | null = null;
    // Bounded polling: the only timing here is the 5 s budget the issue sets for recovery.
    while (Date.now() < deadline) {
      ready = await http(`${server.url}/health/ready`);
      loginRes = await http(`${server.url}/auth/login`, { json: { email, password: PASSWORD } });
      if (ready.status === 200 && loginRes.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready?.status, ready?.body).toBe(200);
    expect(loginRes?.status, loginRes?.body).toBe(200);

    const tokens = loginRes!.json<{ access_token: string; refresh_token: string }>();
    const me = await http(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.status).toBe(200);
    const refreshed = await http(`${server.url}/auth/refresh`, { json: { refresh_token: tokens.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(server.alive()).toBe(true);
  });
});
