/**
 * Two `latchkey serve` processes on one PostgreSQL database deliver each event once between them:
 * the outbox and the due deliveries are claimed with FOR UPDATE SKIP LOCKED and leases.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild } from '../support/latchkey-process.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';
import { postJson, runCli, startServer, type ServerProcess } from '../support/server-process.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const EVENTS = 40;

describe('webhooks on two instances sharing PostgreSQL', () => {
  let databaseUrl: string;
  let receiver: WebhookReceiver;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    requireBuild();
    databaseUrl = await createTestDatabase('latchkey_webhooks');
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await receiver.close();
    await dropTestDatabase(databaseUrl);
  });

  it('delivers every event exactly once', async () => {
    const env = { DATABASE_URL: databaseUrl, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_INTERVAL: '100ms' };
    const created = await runCli(['webhooks', 'create', '--url', receiver.url(), '--events', 'user.created'], env);
    expect(created.code, created.stderr).toBe(0);
    servers.push(await startServer(env), await startServer(env));
    const registrations = Array.from({ length: EVENTS }, (_, i) =>
      postJson(`${servers[i % 2]!.url}/auth/register`, { email: `pg-${i}@example.com`, password: 'correct horse battery staple' }),
    );
    expect((await Promise.all(registrations)).every((r) => r.status === 201)).toBe(true);
    await receiver.waitFor(EVENTS);
    // Wait until every delivery is recorded; a second send of one would have been a second
    // claim, recorded as a second attempt.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      let rows: Array<{ status: string; attempts: number }> = [];
      for (;;) {
        ({ rows } = await client.query<{ status: string; attempts: number }>('SELECT status, attempts FROM webhook_deliveries'));
        if (rows.length === EVENTS && rows.every((r) => r.status === 'succeeded')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(rows.every((r) => r.attempts === 1)).toBe(true);
      expect((await client.query('SELECT count(*)::int AS n FROM webhook_outbox')).rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
    expect(receiver.received).toHaveLength(EVENTS);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(EVENTS);
    const emails = receiver.received.map((r) => (JSON.parse(r.body) as { data: { user: { email: string } } }).data.user.email).sort();
    expect(emails).toEqual(Array.from({ length: EVENTS }, (_, i) => `pg-${i}@example.com`).sort());
  });
});
