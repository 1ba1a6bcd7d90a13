#!/usr/bin/env node
// Webhooks benchmark: delivery throughput (events per second from the outbox to a receiver on
// 127.0.0.1, signed, one HTTP request each) and what a subscribed endpoint adds to
// POST /auth/register (median latency with and without one, interleaved A B B A so that the
// machine's drift hits both alike; reported as a ratio). In-process on SQLite files, through
// app.inject for the registrations; the worker is driven pass by pass (runOnce).
//
//   npm run build && node bench/webhooks.mjs [--events=2000] [--registrations=40] [--json]
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/processes.mjs';

const { values: f } = parseArgs({
  options: { events: { type: 'string', default: '2000' }, registrations: { type: 'string', default: '40' }, json: { type: 'boolean', default: false } },
});
const EVENTS = Number(f.events);
const REGISTRATIONS = Number(f.registrations);
const { buildApp, loadConfig } = await import(join(ROOT, 'packages/server/dist/index.js'));
const log = (line) => process.stderr.write(`webhooks-bench: ${line}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'latchkey-webhooks-bench-'));
let received = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received++;
    res.statusCode = 204;
    res.end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

async function app(name, subscribed) {
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(tmp, `${name}.db`)}`,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_ENABLED: 'false',
    MAIL_OUTBOX_DIR: join(tmp, 'outbox'),
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_WORKER: 'false',
  });
  const a = await buildApp(config);
  await a.ready();
  if (subscribed) {
    await a.latchkey.store.createWebhookEndpoint({
      id: randomUUID(),
      url: receiverUrl,
      eventTypes: ['user.created', 'session.created'],
      description: 'bench',
      enabled: true,
      secret: 'whsec_' + Buffer.alloc(32, 9).toString('base64'), // plaintext: no KEY_ENCRYPTION_KEY here
      createdAt: Date.now(),
    });
  }
  return a;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function registerMs(a) {
  const started = performance.now();
  const res = await a.inject({ method: 'POST', url: '/auth/register', payload: { email: `${randomUUID()}@example.com`, password: 'correct horse battery staple' } });
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`);
  return performance.now() - started;
}

try {
  // 1. Register latency, without (A) and with (B) an endpoint subscribed to user.created.
  const without = await app('without', false);
  const withHook = await app('with', true);
  for (let i = 0; i < 3; i++) {
    await registerMs(without);
    await registerMs(withHook);
  }
  const a = [];
  const b = [];
  for (let i = 0; i < REGISTRATIONS; i++) {
    if (i % 2 === 0) {
      a.push(await registerMs(without));
      b.push(await registerMs(withHook));
    } else {
      b.push(await registerMs(withHook));
      a.push(await registerMs(without));
    }
  }
  await without.close();
  await withHook.close();
  const register = { withoutMs: median(a), withMs: median(b), ratio: median(b) / median(a) };
  log(`POST /auth/register median: ${register.withoutMs.toFixed(1)} ms without an endpoint, ${register.withMs.toFixed(1)} ms with one (x${register.ratio.toFixed(3)})`);

  // 2. Delivery throughput: EVENTS users written (each a user.created in the outbox), then the
  // worker's passes until every one is delivered.
  const t = await app('throughput', true);
  const store = t.latchkey.store;
  for (let i = 0; i < EVENTS; i++) {
    await store.createUser({ id: randomUUID(), email: `${randomUUID()}@example.com`, name: null, passwordHash: 'x', roles: [], emailVerified: false, createdAt: Date.now() });
  }
  received = 0;
  const started = performance.now();
  let passes = 0;
  while (received < EVENTS) {
    await t.latchkey.webhooks.runOnce();
    passes++;
    if (passes > EVENTS) throw new Error(`only ${received} of ${EVENTS} delivered`);
  }
  const seconds = (performance.now() - started) / 1000;
  await t.close();
  const throughput = { events: EVENTS, seconds, eventsPerSecond: EVENTS / seconds, passes };
  log(`delivery: ${EVENTS} events in ${seconds.toFixed(2)} s = ${Math.round(throughput.eventsPerSecond)} events/s (${passes} passes of up to 32)`);
  if (f.json) process.stdout.write(JSON.stringify({ register, throughput }) + '\n');
} finally {
  receiver.close();
  rmSync(tmp, { recursive: true, force: true });
}
