import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from '../../../src/features/webhooks/address-guard.js';
import { secretContext } from '../../../src/features/webhooks/worker.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { WebhookReceiver } from '../../support/webhook-receiver.js';

describe('SSRF guard of webhooks (WEBHOOK_ALLOW_PRIVATE off)', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_WORKER: 'false' });
    receiver = await WebhookReceiver.start();
    const u = await registerAndLogin(t.app);
    await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, Date.now());
    admin = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: u.password } })).json().access_token;
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it('refuses private, loopback, link-local and unspecified targets at registration', async () => {
    for (const url of ['https://127.0.0.1/', 'https://10.0.0.1/', 'https://169.254.169.254/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://0.0.0.0/', 'https://localhost/', receiver.url()]) {
      const res = await t.app.inject({ method: 'POST', url: '/admin/webhooks', headers: bearer(admin), payload: { url, event_types: ['user.created'] } });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code, url).toBe('WEBHOOK_URL_NOT_ALLOWED');
    }
    expect(await t.app.latchkey.store.listWebhookEndpoints()).toEqual([]);
  });

  it('checks the address again at delivery: a host that resolves to loopback now is never connected to', async () => {
    // As after DNS rebinding: the endpoint was accepted once, its host now resolves to 127.0.0.1.
    const id = randomUUID();
    await t.app.latchkey.store.createWebhookEndpoint({
      id,
      url: `https://localhost:${receiver.port}/hook`,
      eventTypes: ['user.created'],
      description: null,
      enabled: true,
      secret: t.app.latchkey.secrets.store('whsec_' + Buffer.alloc(32, 1).toString('base64'), secretContext(id)),
      createdAt: Date.now(),
    });
    await registerAndLogin(t.app);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toEqual([]);
    const { deliveries } = await t.app.latchkey.store.listWebhookDeliveries(id, { limit: 10 });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ status: 'failed', lastStatusCode: null });
    expect(deliveries[0]!.lastError).toMatch(/^address not allowed: localhost resolves to (127\.0\.0\.1|::1)/);
  });

  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.2.3.4', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a9fe:a9fe']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
    expect(isPublicAddress('not-an-ip')).toBe(false);
  });
});
