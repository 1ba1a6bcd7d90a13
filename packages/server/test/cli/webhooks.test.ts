/**
 * `latchkey webhooks ...` through the real binary, and the outbox's promise across a crash: a
 * server killed with SIGKILL while a delivery is in flight loses nothing; the next server on the
 * same database sends the event again, with the same webhook-id and body.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild } from '../support/latchkey-process.js';
import { tempDir } from '../support/helpers.js';
import { postJson, runCli, startServer } from '../support/server-process.js';
import { signatureMatches, WebhookReceiver } from '../support/webhook-receiver.js';

let work: { dir: string; cleanup: () => void };
let receiver: WebhookReceiver;
beforeAll(async () => {
  requireBuild();
  work = tempDir('latchkey-cli-webhooks-');
  receiver = await WebhookReceiver.start();
});
afterAll(async () => {
  await receiver.close();
  work.cleanup();
});

describe('latchkey webhooks', () => {
  it('creates (printing the secret once), lists, rotates, shows deliveries and deletes', async () => {
    const env = { DATABASE_URL: `sqlite:${join(work.dir, 'cli.db')}`, WEBHOOK_ALLOW_PRIVATE: 'true' };
    const created = await runCli(['webhooks', 'create', '--url', receiver.url(), '--events', 'user.created,user.deleted', '--description', 'CRM'], env);
    expect(created.code, created.stderr).toBe(0);
    const id = /endpoint (\S+) created for user\.created, user\.deleted/.exec(created.stdout)![1]!;
    const secret = /(whsec_\S+)/.exec(created.stdout)![1]!;
    const list = await runCli(['webhooks', 'list'], env);
    expect(list.stdout).toContain(`${id}\t${receiver.url()}\tuser.created,user.deleted\tenabled`);
    expect(list.stdout + list.stderr).not.toContain(secret.slice(6));
    const rotated = await runCli(['webhooks', 'rotate-secret', id, '--overlap', '1h'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/new secret \(shown once\): whsec_/);
    expect((await runCli(['webhooks', 'deliveries', id], env)).stdout).toContain('no deliveries yet');
    const unknown = await runCli(['webhooks', 'create', '--url', receiver.url(), '--events', 'user.exploded'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown event type "user.exploded"');
    expect((await runCli(['webhooks', 'delete', id], env)).code).toBe(0);
    const again = await runCli(['webhooks', 'delete', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No such webhook endpoint');
  });

  it('refuses private and loopback targets unless WEBHOOK_ALLOW_PRIVATE', async () => {
    const env = { DATABASE_URL: `sqlite:${join(work.dir, 'ssrf.db')}` };
    const refusals: Array<[string, RegExp]> = [
      ['https://127.0.0.1/hook', /127\.0\.0\.1 is private, loopback or reserved/],
      ['https://10.1.2.3/', /10\.1\.2\.3 is private/],
      ['https://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is private/],
      ['https://[::1]/', /::1 is private/],
      // A host name that resolves to loopback (/etc/hosts).
      ['https://localhost/', /localhost resolves to (127\.0\.0\.1|::1), which is not a public address/],
      [receiver.url(), /must be https/],
      ['https://user:pw@example.com/', /must not carry credentials/],
    ];
    for (const [url, message] of refusals) {
      const r = await runCli(['webhooks', 'create', '--url', url, '--events', 'user.created'], env);
      expect(r.code, url).toBe(1);
      expect(r.stderr, url).toMatch(message);
    }
    expect((await runCli(['webhooks', 'list'], env)).stdout).toContain('no webhook endpoints yet');
  });
});

describe('crash safety of webhook delivery', () => {
  it('SIGKILL while a delivery is in flight: the restarted server delivers the event', async () => {
    const env = {
      DATABASE_URL: `sqlite:${join(work.dir, 'crash.db')}`,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT: '1s',
      WEBHOOK_POLL_INTERVAL: '100ms',
    };
    const created = await runCli(['webhooks', 'create', '--url', receiver.url('/crash'), '--events', 'user.created'], env);
    expect(created.code, created.stderr).toBe(0);
    const secret = /(whsec_\S+)/.exec(created.stdout)![1]!;
    const before = receiver.received.length;
    receiver.hold = true;
    const first = await startServer(env, { cwd: work.dir });
    const reg = await postJson(`${first.url}/auth/register`, { email: 'crash@example.com', password: 'correct horse battery staple' });
    expect(reg.status).toBe(201);
    // The attempt is in flight (the receiver holds it): the process dies before it is recorded.
    await receiver.waitFor(before + 1);
    await first.stop('SIGKILL');
    receiver.hold = false;
    const second = await startServer(env, { cwd: work.dir });
    try {
      // Sent again once the dead process's lease (WEBHOOK_TIMEOUT + 5 s) has run out.
      await receiver.waitFor(before + 2);
      const [held, delivered] = receiver.received.slice(before);
      expect(delivered!.status).toBe(200);
      expect(delivered!.headers['webhook-id']).toBe(held!.headers['webhook-id']);
      expect(delivered!.body).toBe(held!.body);
      expect(JSON.parse(delivered!.body)).toMatchObject({ type: 'user.created', data: { user: { email: 'crash@example.com' } } });
      expect(signatureMatches(secret, delivered!.headers, delivered!.body)).toBe(true);
    } finally {
      await second.stop();
    }
  });
});
