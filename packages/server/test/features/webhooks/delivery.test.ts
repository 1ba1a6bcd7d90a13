import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp, type TestClock } from '../../support/helpers.js';
import { signatureMatches, WebhookReceiver } from '../../support/webhook-receiver.js';

const PASSWORD = 'correct horse battery staple';

const ADMIN = `admin-${Math.random().toString(36).slice(2)}@example.com`;

async function adminToken(t: TestApp, email = ADMIN): Promise<string> {
  if (!(await t.app.latchkey.store.findUserByEmail(email))) {
    const u = await registerAndLogin(t.app, email, PASSWORD);
    await t.app.latchkey.store.updateUser(u.userId, { roles: ['admin'] }, t.clock!());
  }
  const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  return (login.json() as { access_token: string }).access_token;
}

describe('webhook delivery', () => {
  let t: TestApp;
  let clock: TestClock;
  let receiver: WebhookReceiver;
  let admin: string;

  beforeAll(async () => {
    // The worker is driven step by step (runOnce) on the frozen clock: no background pass.
    t = await createTestApp({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_WORKER: 'false', ACCESS_TOKEN_TTL: '24h' }, { clock: true });
    clock = t.clock!;
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    admin = await adminToken(t);
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    for (const e of await t.app.latchkey.store.listWebhookEndpoints()) await t.app.latchkey.store.deleteWebhookEndpoint(e.id);
    await receiver.close();
  });

  async function createEndpoint(types: string[], url = receiver.url()): Promise<{ id: string; secret: string }> {
    const res = await t.app.inject({ method: 'POST', url: '/admin/webhooks', headers: bearer(admin), payload: { url, event_types: types, description: 'test' } });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json() as { endpoint: { id: string }; secret: string };
    return { id: body.endpoint.id, secret: body.secret };
  }

  async function deliveries(id: string): Promise<Array<Record<string, unknown>>> {
    const res = await t.app.inject({ method: 'GET', url: `/admin/webhooks/${id}/deliveries`, headers: bearer(admin) });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { deliveries: Array<Record<string, unknown>> }).deliveries;
  }

  it('manages endpoints through the admin API, showing the secret once', async () => {
    const types = await t.app.inject({ method: 'GET', url: '/admin/webhooks/event-types', headers: bearer(admin) });
    expect(types.json().event_types).toContain('user.created');
    const { id, secret } = await createEndpoint(['user.created', 'session.revoked']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const list = await t.app.inject({ method: 'GET', url: '/admin/webhooks', headers: bearer(admin) });
    expect(list.body).not.toContain(secret.slice(6));
    expect(list.json().endpoints).toMatchObject([{ id, url: receiver.url(), event_types: ['session.revoked', 'user.created'], enabled: true, disabled_reason: null }]);
    const patched = await t.app.inject({ method: 'PATCH', url: `/admin/webhooks/${id}`, headers: bearer(admin), payload: { event_types: ['user.deleted'], enabled: false } });
    expect(patched.json().endpoint).toMatchObject({ event_types: ['user.deleted'], enabled: false });
    const unknown = await t.app.inject({ method: 'PATCH', url: `/admin/webhooks/${id}`, headers: bearer(admin), payload: { event_types: ['user.exploded'] } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().code).toBe('UNKNOWN_EVENT_TYPE');
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/webhooks/${id}`, headers: bearer(admin) })).statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'GET', url: `/admin/webhooks/${id}`, headers: bearer(admin) });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().code).toBe('WEBHOOK_NOT_FOUND');
    const anonymous = await t.app.inject({ method: 'GET', url: '/admin/webhooks' });
    expect(anonymous.statusCode).toBe(401);
    const plain = await registerAndLogin(t.app);
    expect((await t.app.inject({ method: 'POST', url: '/admin/webhooks', headers: bearer(plain.access), payload: { url: receiver.url(), event_types: ['user.created'] } })).statusCode).toBe(403);
  });

  it('delivers a signed user.created to a receiver on 127.0.0.1, with no secret or hash in the body', async () => {
    const { id, secret } = await createEndpoint(['user.created']);
    const user = await registerAndLogin(t.app);
    const pass = await t.app.latchkey.webhooks.runOnce();
    expect(pass.attempts).toBe(1);
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(signatureMatches(secret, got.headers, got.body)).toBe(true);
    expect(got.headers['webhook-id']).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(got.headers['webhook-timestamp']).toBe(String(Math.floor(clock() / 1000)));
    const body = JSON.parse(got.body) as { type: string; timestamp: string; data: { user: Record<string, unknown> } };
    expect(body).toMatchObject({ type: 'user.created', timestamp: new Date(clock()).toISOString(), data: { user: { id: user.userId, email: user.email, email_verified: false } } });
    expect(Object.keys(body.data.user).sort()).toEqual(['created_at', 'disabled', 'email', 'email_verified', 'id', 'name', 'roles', 'updated_at']);
    expect(got.body).not.toMatch(/argon2|password/);
    const [delivery] = await deliveries(id);
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200, event_type: 'user.created', event_id: got.headers['webhook-id'] });
  });

  it('sends user.updated with the changed fields before and after, and nothing for a change that changed nothing', async () => {
    await createEndpoint(['user.updated']);
    const user = await registerAndLogin(t.app);
    const renamed = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(user.access), payload: { name: 'Ada' } });
    expect(renamed.statusCode).toBe(200);
    const again = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(user.access), payload: { name: 'Ada' } });
    expect(again.statusCode).toBe(200);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0]!.body).data).toMatchObject({ user: { id: user.userId, name: 'Ada' }, before: { name: null }, after: { name: 'Ada' } });
  });

  it('retries a receiver that is down until it is up, and each event arrives once', async () => {
    const { id } = await createEndpoint(['user.created']);
    receiver.respond = () => 503;
    await registerAndLogin(t.app);
    await registerAndLogin(t.app);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received.map((r) => r.status)).toEqual([503, 503]);
    const failed = await deliveries(id);
    expect(failed.map((d) => d.status)).toEqual(['failed', 'failed']);
    expect(failed[0]).toMatchObject({ attempts: 1, last_status_code: 503, last_error: 'HTTP 503' });
    // Not due yet: nothing is sent before the backoff (5 s ± 20 %) has passed.
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(2);
    clock.advance(3000);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(2);
    // Down for a second try, then up.
    clock.advance(3000);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(4);
    receiver.respond = () => 200;
    clock.advance(60_000);
    await t.app.latchkey.webhooks.runOnce();
    clock.advance(3_600_000);
    await t.app.latchkey.webhooks.runOnce();
    const ok = receiver.received.filter((r) => r.status === 200);
    expect(ok).toHaveLength(2);
    expect(new Set(ok.map((r) => r.headers['webhook-id'])).size).toBe(2);
    // Every attempt of one event carried the same webhook-id.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(2);
    expect((await deliveries(id)).map((d) => [d.status, d.attempts])).toEqual([
      ['succeeded', 3],
      ['succeeded', 3],
    ]);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const { id } = await createEndpoint(['user.created']);
    receiver.respond = (path) => (path === '/hook' ? { status: 302, location: receiver.url('/elsewhere') } : 200);
    await registerAndLogin(t.app);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received.map((r) => r.path)).toEqual(['/hook']);
    expect((await deliveries(id))[0]).toMatchObject({ status: 'failed', last_status_code: 302 });
  });

  it('signs with both secrets during a rotation overlap, and with the new one only after it', async () => {
    const { id, secret: oldSecret } = await createEndpoint(['session.created']);
    const rotated = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/rotate-secret`, headers: bearer(admin), payload: { overlap: '1h' } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { secret: newSecret, previous_expires_at } = rotated.json() as { secret: string; previous_expires_at: string };
    expect(previous_expires_at).toBe(new Date(clock() + 3_600_000).toISOString());
    await registerAndLogin(t.app);
    await t.app.latchkey.webhooks.runOnce();
    const during = receiver.received[0]!;
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(signatureMatches(oldSecret, during.headers, during.body)).toBe(true);
    expect(signatureMatches(newSecret, during.headers, during.body)).toBe(true);
    clock.advance(3_600_000);
    await registerAndLogin(t.app);
    await t.app.latchkey.webhooks.runOnce();
    const after = receiver.received[1]!;
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(signatureMatches(newSecret, after.headers, after.body)).toBe(true);
    expect(signatureMatches(oldSecret, after.headers, after.body)).toBe(false);
  });

  it('disables an endpoint that fails for a day without a success, with a reason; enabling clears it', async () => {
    const { id } = await createEndpoint(['user.created']);
    receiver.respond = () => 500;
    await registerAndLogin(t.app);
    await t.app.latchkey.webhooks.runOnce();
    // A failing endpoint keeps getting new events (each retried for WEBHOOK_RETRY_FOR).
    for (let hour = 0; hour < 25; hour++) {
      clock.advance(3_600_000);
      await t.app.latchkey.store.createUser({ id: randomUUID(), email: `${randomUUID()}@example.com`, name: null, passwordHash: 'x', roles: [], emailVerified: false, createdAt: clock() });
      await t.app.latchkey.webhooks.runOnce();
    }
    admin = await adminToken(t);
    const endpoint = (await t.app.inject({ method: 'GET', url: `/admin/webhooks/${id}`, headers: bearer(admin) })).json().endpoint;
    expect(endpoint.enabled).toBe(false);
    expect(endpoint.disabled_reason).toMatch(/^failing since .* without a success; last error: HTTP 500$/);
    const sent = receiver.received.length;
    clock.advance(4 * 3_600_000);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(sent);
    receiver.respond = () => 200;
    const enabled = await t.app.inject({ method: 'PATCH', url: `/admin/webhooks/${id}`, headers: bearer(admin), payload: { enabled: true } });
    expect(enabled.json().endpoint).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
  });

  it('sends a test event, and redelivers a delivery with the same webhook-id and body', async () => {
    const { id, secret } = await createEndpoint(['user.created']);
    const test = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/test`, headers: bearer(admin) });
    expect(test.statusCode, test.body).toBe(202);
    expect(test.json().delivery).toMatchObject({ status: 'pending', event_type: 'webhook.test', attempts: 0 });
    await t.app.latchkey.webhooks.runOnce();
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ type: 'webhook.test', data: { endpoint_id: id } });
    const again = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/deliveries/${test.json().delivery.id}/redeliver`, headers: bearer(admin) });
    expect(again.statusCode, again.body).toBe(202);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.headers['webhook-id']).toBe(receiver.received[0]!.headers['webhook-id']);
    expect(receiver.received[1]!.body).toBe(receiver.received[0]!.body);
    expect(signatureMatches(secret, receiver.received[1]!.headers, receiver.received[1]!.body)).toBe(true);
    const missing = await t.app.inject({ method: 'POST', url: `/admin/webhooks/${id}/deliveries/nope/redeliver`, headers: bearer(admin) });
    expect(missing.json().code).toBe('DELIVERY_NOT_FOUND');
    const page = await t.app.inject({ method: 'GET', url: `/admin/webhooks/${id}/deliveries?limit=1`, headers: bearer(admin) });
    expect(page.json().deliveries).toHaveLength(1);
    const next = await t.app.inject({ method: 'GET', url: `/admin/webhooks/${id}/deliveries?limit=1&cursor=${page.json().next_cursor}`, headers: bearer(admin) });
    expect(next.json().deliveries).toHaveLength(1);
    expect(next.json().deliveries[0].id).not.toBe(page.json().deliveries[0].id);
    expect(next.json().next_cursor).toBeNull();
  });

  it('writes no event for a registration that created nothing (taken email)', async () => {
    await createEndpoint(['user.created']);
    const email = `twice-${Math.random().toString(36).slice(2)}@example.com`;
    expect((await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })).statusCode).toBe(409);
    await t.app.latchkey.webhooks.runOnce();
    expect(receiver.received).toHaveLength(1);
  });
});
