import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError } from '../src/index.js';
import { verifyWebhook as fromSubpath } from '../src/webhooks.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NOW = Date.UTC(2026, 0, 1);
const body = JSON.stringify({ type: 'user.created', timestamp: new Date(NOW).toISOString(), data: { user: { id: 'u1' } } });

/** Headers signed by the independent implementation (the `standardwebhooks` package). */
function signedBy(secret: string, id = 'evt_1', at = NOW): Record<string, string> {
  const signature = new Webhook(secret).sign(id, new Date(at), body);
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at / 1000)), 'webhook-signature': signature };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('verifyWebhook', () => {
  it('accepts a delivery signed by the standardwebhooks library and returns the event', () => {
    const event = verifyWebhook({ secret: SECRET, headers: signedBy(SECRET), body, now: NOW });
    expect(event).toEqual({ type: 'user.created', timestamp: new Date(NOW).toISOString(), data: { user: { id: 'u1' } } });
    expect(fromSubpath({ secret: SECRET, headers: new Headers(signedBy(SECRET)), body: Buffer.from(body), now: NOW }).type).toBe('user.created');
  });

  it('matches the spec’s example signature', () => {
    const headers = { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };
    // The example body is not an event: the signature passes, the payload check refuses it.
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers, body: '{"test": 2432232314}', now: 1614265330_000 }))).toBe('ERR_WEBHOOK_PAYLOAD');
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers, body: '{"test": 2432232315}', now: 1614265330_000 }))).toBe('ERR_WEBHOOK_SIGNATURE');
  });

  it('accepts any of several signatures and any of several secrets (rotation)', () => {
    const other = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    const both = { ...signedBy(SECRET), 'webhook-signature': `${signedBy(other)['webhook-signature']} ${signedBy(SECRET)['webhook-signature']}` };
    expect(verifyWebhook({ secret: SECRET, headers: both, body, now: NOW }).type).toBe('user.created');
    expect(verifyWebhook({ secrets: [SECRET, other], headers: signedBy(other), body, now: NOW }).type).toBe('user.created');
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: signedBy(other), body, now: NOW }))).toBe('ERR_WEBHOOK_SIGNATURE');
  });

  it('refuses a changed body, a stale or future timestamp, and missing headers', () => {
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: signedBy(SECRET), body: body.replace('u1', 'u2'), now: NOW }))).toBe('ERR_WEBHOOK_SIGNATURE');
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: signedBy(SECRET), body, now: NOW + 301_000 }))).toBe('ERR_WEBHOOK_TIMESTAMP');
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: signedBy(SECRET), body, now: NOW - 301_000 }))).toBe('ERR_WEBHOOK_TIMESTAMP');
    expect(verifyWebhook({ secret: SECRET, headers: signedBy(SECRET), body, now: NOW + 600_000, toleranceSeconds: 600 }).type).toBe('user.created');
    const { 'webhook-signature': _, ...unsigned } = signedBy(SECRET);
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: unsigned, body, now: NOW }))).toBe('ERR_WEBHOOK_HEADERS');
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: { ...signedBy(SECRET), 'webhook-timestamp': 'soon' }, body, now: NOW }))).toBe('ERR_WEBHOOK_HEADERS');
    // A signature made for another id does not pass for this one.
    expect(refusal(() => verifyWebhook({ secret: SECRET, headers: { ...signedBy(SECRET), 'webhook-id': 'evt_2' }, body, now: NOW }))).toBe('ERR_WEBHOOK_SIGNATURE');
  });

  it('never puts the secret or the signature in its messages', () => {
    try {
      verifyWebhook({ secret: SECRET, headers: signedBy(SECRET), body: '{}', now: NOW });
    } catch (err) {
      expect((err as Error).message).not.toContain(SECRET.slice(6));
      expect((err as Error).message).not.toContain(signedBy(SECRET)['webhook-signature'].slice(3));
    }
  });
});
