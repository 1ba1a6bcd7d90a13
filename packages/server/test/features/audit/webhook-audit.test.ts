import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';

// The audit entries of the webhook admin routes (merged from w-webhooks): one per action, the
// admin as the actor, the endpoint as the target, never a secret (nor a URL's query string).

const PASSWORD = 'correct horse battery staple';
let t: TestApp;
let admin: { email: string; access: string; userId: string };

interface Entry {
  actor: { type: string; id: string | null; email: string | null };
  action: string;
  target: { type: string | null; id: string | null };
  changes: Record<string, unknown> | null;
}

beforeAll(async () => {
  // No worker: deliveries stay pending, nothing is sent (the receiver address is never contacted).
  t = await createTestApp({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_WORKER: 'false' });
  const email = `hooks-${randomUUID().slice(0, 8)}@example.com`;
  const u = await registerAndLogin(t.app, email, PASSWORD);
  await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, Date.now());
  const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  admin = { email, access: (login.json() as { access_token: string }).access_token, userId: u.userId };
});
afterAll(() => t?.close());

async function entries(target: string): Promise<Entry[]> {
  const res = await t.app.inject({ method: 'GET', url: `/admin/audit?target=${target}`, headers: bearer(admin.access) });
  expect(res.statusCode).toBe(200);
  return (res.json() as { entries: Entry[] }).entries.reverse();
}

describe('audit entries of the webhook admin routes', () => {
  it('create, update, test, redeliver, rotate, delete: one entry each, no secret and no query string', async () => {
    const h = bearer(admin.access);
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/webhooks',
      headers: h,
      payload: { url: 'http://127.0.0.1:9/hook?token=receiver-secret-123', event_types: ['user.created'], description: 'CRM' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { endpoint, secret } = created.json() as { endpoint: { id: string }; secret: string };
    const id = endpoint.id;

    expect((await t.app.inject({ method: 'PATCH', url: `/admin/webhooks/${id}`, headers: h, payload: { event_types: ['user.created', 'user.deleted'], enabled: false } })).statusCode).toBe(200);
    // The same values again: nothing changed, no entry.
    expect((await t.app.inject({ method: 'PATCH', url: `/admin/webhooks/${id}`, headers: h, payload: { enabled: false } })).statusCode).toBe(200);
    const tested = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/test`, headers: h });
    expect(tested.statusCode, tested.body).toBe(202);
    const deliveryId = (tested.json() as { delivery: { id: string } }).delivery.id;
    const redelivered = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/deliveries/${deliveryId}/redeliver`, headers: h });
    expect(redelivered.statusCode, redelivered.body).toBe(202);
    const rotated = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/rotate-secret`, headers: h, payload: { overlap: '1h' } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const newSecret = (rotated.json() as { secret: string }).secret;
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/webhooks/${id}`, headers: h })).statusCode).toBe(204);

    const log = await entries(id);
    expect(log.map((e) => e.action)).toEqual([
      'admin.webhook.created',
      'admin.webhook.updated',
      'admin.webhook.tested',
      'admin.webhook.redelivered',
      'admin.webhook.secret_rotated',
      'admin.webhook.deleted',
    ]);
    for (const e of log) {
      expect(e.actor).toEqual({ type: 'admin', id: admin.userId, email: admin.email });
      expect(e.target).toEqual({ type: 'webhook', id });
    }
    expect(log[0]!.changes).toEqual({
      url: { from: null, to: 'http://127.0.0.1:9/hook?…' },
      event_types: { from: null, to: ['user.created'] },
      description: { from: null, to: 'CRM' },
      enabled: { from: null, to: true },
      secret: { set: true },
    });
    expect(log[1]!.changes).toEqual({ event_types: { from: ['user.created'], to: ['user.created', 'user.deleted'] }, enabled: { from: true, to: false } });
    expect(log[3]!.changes).toMatchObject({ delivery_id: deliveryId });
    expect(log[4]!.changes).toMatchObject({ secret: { rotated: true } });
    expect(log[5]!.changes).toMatchObject({ url: { from: 'http://127.0.0.1:9/hook?…', to: null } });
    const text = JSON.stringify(log);
    for (const s of [secret, newSecret, 'receiver-secret-123', 'whsec_']) expect(text).not.toContain(s);
  });

  it('a refused action (unknown endpoint) writes no entry', async () => {
    const missing = randomUUID();
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/webhooks/${missing}`, headers: bearer(admin.access) })).statusCode).toBe(404);
    expect(await entries(missing)).toEqual([]);
  });
});
