/**
 * IPv6 clients are counted per network (RATE_LIMIT_IPV6_PREFIX, default /64): one ordinary IPv6
 * allocation holds 2^64 addresses, so counting per address would give its holder unlimited
 * attempts. Covers the per-IP limits and the login backoff, the peer address (app.inject's
 * remoteAddress) and X-Forwarded-For from a trusted proxy, IPv4-mapped IPv6 counting as IPv4, and
 * that sessions and events still record the full address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientKey, clientKeyer } from '../../../src/features/ratelimit/client-key.js';
import { createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';

const PASSWORD = 'correct horse battery staple';

type From = { peer: string } | { forwarded: string };

function login(t: TestApp, email: string, password: string, from: From) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    ...('peer' in from ? { remoteAddress: from.peer } : { headers: { 'x-forwarded-for': from.forwarded } }),
  });
}

async function codes(t: TestApp, froms: From[], email = 'nobody@example.com', password = 'wrong password') {
  const out: number[] = [];
  for (const from of froms) out.push((await login(t, email, password, from)).statusCode);
  return out;
}

describe('per-IP limits group IPv6 addresses by network', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '2/1m', LOGIN_BACKOFF_THRESHOLD: '1000' });
  });
  afterAll(() => t.close());

  it('two addresses of one /64 share a budget; another /64 has its own', async () => {
    const sameNet = ['2001:db8:1:2::a', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0000:0000:0000:00bb'];
    expect(await codes(t, sameNet.map((peer) => ({ peer })))).toEqual([400, 400, 429]);
    expect(await codes(t, [{ peer: '2001:db8:1:3::a' }])).toEqual([400]);
  });

  it('an IPv4-mapped IPv6 address counts as the IPv4 address', async () => {
    expect(await codes(t, [{ peer: '198.51.100.9' }, { peer: '::ffff:198.51.100.9' }, { peer: '::ffff:c633:6409' }])).toEqual([400, 400, 429]);
    expect(await codes(t, [{ peer: '::ffff:198.51.100.10' }])).toEqual([400]);
  });
});

describe('X-Forwarded-For from a trusted proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '2/1m', LOGIN_BACKOFF_THRESHOLD: '1000', TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => t.close());

  it('groups the forwarded addresses the same way', async () => {
    expect(await codes(t, [{ forwarded: '2001:db8:aa:bb::1' }, { forwarded: '2001:db8:aa:bb:1:2:3:4' }, { forwarded: '2001:db8:aa:bb::99' }])).toEqual([
      400, 400, 429,
    ]);
    expect(await codes(t, [{ forwarded: '2001:db8:aa:bc::1' }])).toEqual([400]);
  });
});

describe('RATE_LIMIT_IPV6_PREFIX', () => {
  it('128 counts every address alone; 48 groups a whole /48', async () => {
    const exact = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1/1m', LOGIN_BACKOFF_THRESHOLD: '1000', RATE_LIMIT_IPV6_PREFIX: '128' });
    try {
      expect(await codes(exact, [{ peer: '2001:db8::1' }, { peer: '2001:db8::2' }, { peer: '2001:db8::1' }])).toEqual([400, 400, 429]);
    } finally {
      await exact.close();
    }
    const wide = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1/1m', LOGIN_BACKOFF_THRESHOLD: '1000', RATE_LIMIT_IPV6_PREFIX: '48' });
    try {
      expect(await codes(wide, [{ peer: '2001:db8:5:1::1' }, { peer: '2001:db8:5:ffff::1' }, { peer: '2001:db8:6::1' }])).toEqual([400, 429, 400]);
    } finally {
      await wide.close();
    }
  });
});

describe('the login backoff groups IPv6 addresses by network too', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1000/1m', LOGIN_BACKOFF_THRESHOLD: '3', LOGIN_BACKOFF_BASE: '60s' });
  });
  afterAll(() => t.close());

  it('failures from addresses of one /64 lock that /64 for the account; the full address is still recorded', async () => {
    const user = await registerAndLogin(t.app, 'v6@example.com', PASSWORD);
    const attempts = ['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7::3'].map((peer) => ({ peer }));
    expect(await codes(t, attempts, user.email)).toEqual([400, 400, 429]);
    // A fourth address of the same /64, right password: locked without a check.
    const locked = await login(t, user.email, PASSWORD, { peer: '2001:db8:7:7:abcd::4' });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('RATE_LIMITED');
    // Mapped IPv4 and IPv4 are one client for the backoff as well.
    expect(await codes(t, [{ peer: '::ffff:192.0.2.50' }, { peer: '192.0.2.50' }, { peer: '::ffff:192.0.2.50' }], user.email)).toEqual([400, 400, 429]);
    expect((await login(t, user.email, PASSWORD, { peer: '192.0.2.50' })).statusCode).toBe(429);
    // Another /64 is another client.
    const fromHome = await login(t, user.email, PASSWORD, { peer: '2001:db8:7:8::1' });
    expect(fromHome.statusCode).toBe(200);

    const events = await t.app.latchkey.store.listEvents(user.userId, 50);
    const failedIps = events.filter((e) => e.type === 'login_failed').map((e) => e.ip);
    expect(failedIps).toEqual(expect.arrayContaining(['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7::3']));
    expect(events.find((e) => e.type === 'login_succeeded' && e.ip === '2001:db8:7:8::1')).toBeDefined();
    const sessions = await t.app.latchkey.store.listSessions(user.userId, t.app.latchkey.clock());
    expect(sessions.map((s) => s.ip)).toContain('2001:db8:7:8::1');
  });
});

describe('clientKey', () => {
  it('keeps IPv4, turns mapped IPv4 into IPv4, and masks IPv6 to the prefix in canonical form', () => {
    expect(clientKey('203.0.113.5', 64)).toBe('203.0.113.5');
    expect(clientKey('::ffff:203.0.113.5', 64)).toBe('203.0.113.5');
    expect(clientKey('::FFFF:CB00:7105', 64)).toBe('203.0.113.5');
    expect(clientKey('::ffff:203.0.113.5', 128)).toBe('203.0.113.5');
    expect(clientKey('2001:db8:1:2:aaaa::1', 64)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0DB8:0001:0002:FFFF:FFFF:FFFF:FFFF', 64)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:3::1', 64)).toBe('2001:db8:1:3::/64');
    expect(clientKey('2001:db8:abcd:12ff::1', 56)).toBe('2001:db8:abcd:1200::/56');
    expect(clientKey('2001:db8:abcd:12ff::1', 48)).toBe('2001:db8:abcd::/48');
    expect(clientKey('2001:db8:0:0:1:0:0:1', 128)).toBe('2001:db8::1:0:0:1');
    expect(clientKey('2001:0:0:1:0:0:0:1', 128)).toBe('2001:0:0:1::1');
    expect(clientKey('fe80::1%eth0', 64)).toBe('fe80::/64');
    expect(clientKey('::1', 128)).toBe('::1');
    expect(clientKey('::1', 64)).toBe('::/64');
    expect(clientKey('64:ff9b::192.0.2.33', 128)).toBe('64:ff9b::c000:221');
    // Not an address (a proxy could forward anything): unchanged, never a crash.
    for (const odd of ['unknown', '[2001:db8::1]', '1.2.3.4:5678', '2001:db8::g', '']) expect(clientKey(odd, 64)).toBe(odd);
  });

  it('the cached keyer gives the same answers', () => {
    const keyOf = clientKeyer(64);
    for (const ip of ['203.0.113.5', '::ffff:203.0.113.5', '2001:db8:1:2:aaaa::1', 'unknown']) {
      expect(keyOf(ip)).toBe(clientKey(ip, 64));
      expect(keyOf(ip)).toBe(clientKey(ip, 64));
    }
  });
});
