/**
 * A real signed delivery checked by three receivers that share no code with the server's signer:
 * `verifyWebhook` of @latchkey/verify, the `standardwebhooks` library, and the Python function of
 * docs/webhooks.md run by /usr/bin/python3.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../../../verify/src/webhooks.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { WebhookReceiver, type ReceivedWebhook } from '../../support/webhook-receiver.js';

const PYTHON = '/usr/bin/python3';
const DOC = fileURLToPath(new URL('../../../../../docs/webhooks.md', import.meta.url));

/** The ```python block of docs/webhooks.md. */
function pythonOfDoc(): string {
  const match = /```python\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'));
  if (!match) throw new Error('docs/webhooks.md has no python block');
  return match[1]!;
}

describe('webhook signatures, checked by independent receivers', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let secret: string;
  let delivery: ReceivedWebhook;

  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_WORKER: 'false' });
    receiver = await WebhookReceiver.start();
    const admin = await registerAndLogin(t.app);
    await t.app.latchkey.store.updateUser(admin.userId, { roles: ['admin'] }, Date.now());
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: admin.email, password: admin.password } });
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/webhooks',
      headers: bearer(login.json().access_token),
      payload: { url: receiver.url(), event_types: ['user.created'] },
    });
    secret = created.json().secret;
    // A name outside ASCII: the signature is over the body's UTF-8 bytes.
    await t.app.latchkey.store.createUser({ id: randomUUID(), email: 'interop@example.com', name: 'Zoë Ünïcode ✓', passwordHash: 'x', roles: [], emailVerified: false, createdAt: Date.now() });
    await t.app.latchkey.webhooks.runOnce();
    delivery = receiver.received[0]!;
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it('passes verifyWebhook of @latchkey/verify', () => {
    const event = verifyWebhook<{ user: { name: string } }>({ secret, headers: delivery.headers, body: delivery.body });
    expect(event.type).toBe('user.created');
    expect(event.data.user.name).toBe('Zoë Ünïcode ✓');
  });

  it('passes the standardwebhooks library', () => {
    const headers = { 'webhook-id': String(delivery.headers['webhook-id']), 'webhook-timestamp': String(delivery.headers['webhook-timestamp']), 'webhook-signature': String(delivery.headers['webhook-signature']) };
    expect(new Webhook(secret).verify(delivery.body, headers)).toMatchObject({ type: 'user.created' });
    expect(() => new Webhook(secret).verify(delivery.body.replace('user.created', 'user.deleted'), headers)).toThrow();
  });

  it.skipIf(!existsSync(PYTHON))('passes the Python check of docs/webhooks.md, and it refuses a forged body', () => {
    const driver = `${pythonOfDoc()}
import sys
req = json.loads(sys.stdin.read())
body = req["body"].encode()
print(json.dumps(verify_webhook(req["secret"], req["headers"], body)["type"]))
try:
    verify_webhook(req["secret"], req["headers"], body.replace(b"user.created", b"user.deleted"))
    print("forged accepted")
except ValueError as err:
    print(str(err))
`;
    const headers = { 'webhook-id': delivery.headers['webhook-id'], 'webhook-timestamp': delivery.headers['webhook-timestamp'], 'webhook-signature': delivery.headers['webhook-signature'] };
    const run = spawnSync(PYTHON, ['-c', driver], { input: JSON.stringify({ secret, headers, body: delivery.body }), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(['"user.created"', 'no webhook signature matches']);
  });
});
